from feedback.models.arena import Battle, Conversation, Message
from feedback.models.donations import Donation
from feedback.models.releases import Release
from feedback.models.tasks import (
    Claim,
    ClaimLabel,
    ClaimVerdict,
    FlagLabel,
    FlagResponse,
    Ranking,
    Rating,
    RatingScale,
    Revision,
    TaskAssignment,
    TaskItem,
    TaskKind,
)
from feedback.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "Battle",
    "Claim",
    "ClaimLabel",
    "ClaimVerdict",
    "Conversation",
    "Donation",
    "FlagLabel",
    "FlagResponse",
    "Message",
    "Ranking",
    "Rating",
    "Release",
    "RatingScale",
    "Revision",
    "TaskAssignment",
    "TaskItem",
    "TaskKind",
]
