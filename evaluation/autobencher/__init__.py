"""AutoBencher (METHODS §2): benchmark creation as search. metrics.py scores a candidate dataset.

Pure computation, no Django import.
"""
