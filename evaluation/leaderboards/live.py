"""Telling open pages about a new snapshot: each page of a scope listens on that scope's
Channels group; the board is rendered once and sent to all of them, and htmx swaps it in."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

from evaluation.leaderboards.board import BOARD_TEMPLATE, board_context
from evaluation.leaderboards.scopes import Scope
from evaluation.models import LeaderboardSnapshot


def snapshot_scope(snapshot: LeaderboardSnapshot) -> Scope:
    return Scope(
        community=snapshot.community,
        category=snapshot.category,
        value=snapshot.category_value,
        style_control=snapshot.style_control,
    )


def board_fragment(*, snapshot_id: int) -> str:
    """The board of a snapshot as an out-of-band swap (it replaces `#leaderboard-board`)."""
    snapshot = LeaderboardSnapshot.objects.select_related("community").get(pk=snapshot_id)
    context = {**board_context(snapshot_scope(snapshot), snapshot), "oob": True}
    return render_to_string(f"{BOARD_TEMPLATE}#board", context).strip()


def snapshot_broadcast(*, snapshot_id: int) -> None:
    snapshot = LeaderboardSnapshot.objects.select_related("community").get(pk=snapshot_id)
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "snapshot.published", "snapshot_id": snapshot.pk, "html": board_fragment(snapshot_id=snapshot.pk)}
    async_to_sync(layer.group_send)(snapshot_scope(snapshot).group_name, event)
