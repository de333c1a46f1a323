"""Calibration: conformal factuality (conformal.py) and the claims files it reads (claims_file.py).

Pure computation, no Django import: a worker, a command and a test call the same functions.
"""
