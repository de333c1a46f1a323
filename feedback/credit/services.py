"""Writes for credit. Points are never stored, so the only write is a volunteer's choice to be
shown on contributor leaderboards or not."""

from community.errors import RequestRejected
from community.models import User

_CHOICES = {True: True, False: False, "true": True, "false": False}


def leaderboard_visibility_set(*, user: User, is_on_leaderboards: object) -> User:
    """Show the user on contributor leaderboards (True, "true") or hide them (False, "false").
    Their own credit page keeps counting either way."""
    if not isinstance(is_on_leaderboards, bool | str) or is_on_leaderboards not in _CHOICES:
        raise RequestRejected('Choose "true" to be shown on leaderboards or "false" to be hidden.')
    user.is_on_leaderboards = _CHOICES[is_on_leaderboards]
    user.save(update_fields=["is_on_leaderboards"])
    return user
