"""Writes for moderation. Import from here: `report_create`, `case_act`, `appeal_decide_as_moderator`."""

from feedback.moderation.services.actions import ACTIONS, case_act
from feedback.moderation.services.appeals import appeal_decide_as_moderator
from feedback.moderation.services.audit import audit_record
from feedback.moderation.services.reports import report_create

__all__ = ["ACTIONS", "appeal_decide_as_moderator", "audit_record", "case_act", "report_create"]
