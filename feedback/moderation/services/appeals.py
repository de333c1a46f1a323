"""Deciding appeals from the console: the sanction is lifted (granted) or kept (rejected),
with a reason, in the audit log."""

from django.db import transaction

from community.errors import NotAllowed, RequestRejected
from community.models import Appeal, User
from community.services import appeal_decide, reason_clean
from feedback.models import AuditEntry
from feedback.moderation.selectors import appeal_get_for_moderator
from feedback.moderation.services.audit import audit_record

OWN_SANCTION_REFUSAL = (
    "You imposed this sanction, so you cannot decide its appeal: another moderator of the community "
    "(an admin, for a site-wide sanction) reads it and decides."
)


def appeal_is_own_sanction(*, appeal: Appeal, viewer: User) -> bool:
    """Whether `viewer` imposed the sanction appealed against (then someone else decides)."""
    return appeal.sanction.imposed_by_id is not None and appeal.sanction.imposed_by_id == viewer.pk


def appeal_decide_as_moderator(*, actor: User, appeal_id: object, is_granted: object, reason: object) -> Appeal:
    """Grant (lift the sanction) or reject an open appeal. 403 outside the moderator's
    communities (site-wide sanctions: admins) and for the moderator who imposed the sanction
    (another moderator decides its appeal), 400 without a reason, 409 once decided."""
    with transaction.atomic():
        appeal = appeal_get_for_moderator(viewer=actor, appeal_id=appeal_id)
        if appeal_is_own_sanction(appeal=appeal, viewer=actor):
            raise NotAllowed(OWN_SANCTION_REFUSAL)
        clean_reason = reason_clean(reason)
        if is_granted not in (True, False):
            raise RequestRejected("Choose to lift the sanction or keep it.")
        sanction = appeal.sanction
        before = {
            "appeal": appeal.status,
            "sanction": sanction.pk,
            "sanction_lifted_at": sanction.lifted_at.isoformat() if sanction.lifted_at else None,
        }
        appeal = appeal_decide(actor=actor, appeal=appeal, is_granted=is_granted, reason=clean_reason)
        sanction.refresh_from_db()
        audit_record(
            actor=actor,
            community=sanction.community,
            action=AuditEntry.Action.APPEAL_GRANT if is_granted else AuditEntry.Action.APPEAL_REJECT,
            target_kind=AuditEntry.TargetKind.APPEAL,
            target_id=appeal.pk,
            subject=sanction.user,
            reason=clean_reason,
            before=before,
            after={
                "appeal": appeal.status,
                "sanction": sanction.pk,
                "sanction_lifted_at": sanction.lifted_at.isoformat() if sanction.lifted_at else None,
            },
        )
        return appeal
