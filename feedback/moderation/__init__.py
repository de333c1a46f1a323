"""Moderation: reports, automatic flags, the console, quality gates and contributor trust."""
