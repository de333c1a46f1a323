"""Writes for the task queue: creating items, serving and skipping them, and every response.

`queue` serves and skips; `responses` records what volunteers answer; `items` creates the
work from what enters the pool (arena answers, corrections, donated conversations).
"""
