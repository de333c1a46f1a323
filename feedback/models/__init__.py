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
from feedback.models.trust import ContributorTrust, ModerationPolicy, ModerationPolicyChange, ReviewGate, TrustMode

__all__ = [
    "ApiToken",
    "Battle",
    "Claim",
    "ClaimLabel",
    "ClaimVerdict",
    "ContributorTrust",
    "Conversation",
    "Donation",
    "FlagLabel",
    "FlagResponse",
    "Message",
    "ModerationPolicy",
    "ModerationPolicyChange",
    "Ranking",
    "Rating",
    "Release",
    "RatingScale",
    "ReviewGate",
    "Revision",
    "TaskAssignment",
    "TaskItem",
    "TaskKind",
    "TrustMode",
]
