"""The one way into the audit log."""

from community.models import Community, User
from feedback.models import AuditEntry


def audit_record(
    *,
    actor: User | None,
    community: Community | None,
    action: str,
    target_kind: str,
    target_id: int,
    subject: User | None,
    reason: str,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Append one entry. Call it inside the transaction of the action it records, so both are
    written or neither."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        community=community,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        subject=subject,
        reason=reason,
        before=before or {},
        after=after or {},
    )
