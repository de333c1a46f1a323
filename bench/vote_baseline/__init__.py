"""A bench-only Django app for bench/vote_load.py: a bare DRF create endpoint on a model the
size of a vote, the baseline the platform's vote is measured against. Never installed in the
product (only bench/vote_baseline/settings.py adds it)."""
