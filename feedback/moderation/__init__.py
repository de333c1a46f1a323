"""Moderation: automatic detectors (pure), near-duplicate signatures (pure) and rate limits."""
