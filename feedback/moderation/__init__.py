"""Moderation: reports, automatic flags, the moderator console, sanctions' effects, the audit log.

See docs/moderation.md. Writes live in `services/`, reads in `selectors.py`, the background scan
in `scan.py`."""
