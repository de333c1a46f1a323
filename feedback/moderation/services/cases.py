"""Cases: the unit of the moderator queue (one per reported or flagged item)."""

from django.db.models import Min
from django.utils import timezone

from community.models import User
from feedback.models import AutoFlag, Donation, Message, ModerationCase, Report
from feedback.models.moderation import REPORT_SEVERITY, SEVERITY_RANK, ReportReason, Severity


def case_for_target_locked(*, message: Message | None = None, donation: Donation | None = None) -> ModerationCase:
    """The item's case, created if missing, locked for the rest of the transaction (so counting
    its open reports, e.g. for hiding at N, sees every concurrent report)."""
    if message is not None:
        community_id = message.conversation.community_id
        lookup = {"message": message}
    else:
        community_id = donation.community_id
        lookup = {"donation": donation}
    case, _ = ModerationCase.objects.select_for_update().get_or_create(
        **lookup, defaults={"community_id": community_id, "opened_at": timezone.now()}
    )
    return case


def case_refresh(case: ModerationCase, *, resolved_by: User | None = None) -> ModerationCase:
    """Recount the case's open reports and flags: its severity is the highest among them, its
    age that of the oldest; with none left it is resolved."""
    open_reports = Report.objects.filter(case=case, status=Report.Status.OPEN)
    open_flags = AutoFlag.objects.filter(case=case, status=AutoFlag.Status.OPEN)
    reasons = set(open_reports.values_list("reason", flat=True))
    severities = set(open_flags.values_list("severity", flat=True))
    ranks = [SEVERITY_RANK[REPORT_SEVERITY[ReportReason(reason)]] for reason in reasons]
    ranks += [SEVERITY_RANK[Severity(severity)] for severity in severities]
    case.open_reports = open_reports.count()
    case.open_flags = open_flags.count()
    if case.open_reports or case.open_flags:
        oldest = [
            moment
            for moment in (
                open_reports.aggregate(oldest=Min("created_at"))["oldest"],
                open_flags.aggregate(oldest=Min("created_at"))["oldest"],
            )
            if moment is not None
        ]
        if case.status != ModerationCase.Status.OPEN:
            case.resolved_at = None
            case.resolved_by = None
        case.status = ModerationCase.Status.OPEN
        case.severity = max(ranks)
        case.opened_at = min(oldest)
    elif case.status == ModerationCase.Status.OPEN or resolved_by is not None:
        case.status = ModerationCase.Status.RESOLVED
        case.resolved_at = timezone.now()
        case.resolved_by = resolved_by
    case.save(
        update_fields=["open_reports", "open_flags", "status", "severity", "opened_at", "resolved_at", "resolved_by"]
    )
    return case


def case_close_all(case: ModerationCase, *, is_upheld: bool, actor: User) -> ModerationCase:
    """A moderator decided: the case's open reports are upheld or dismissed, its open flags
    confirmed or dismissed, and the case is resolved."""
    now = timezone.now()
    Report.objects.filter(case=case, status=Report.Status.OPEN).update(
        status=Report.Status.UPHELD if is_upheld else Report.Status.DISMISSED, resolved_at=now
    )
    AutoFlag.objects.filter(case=case, status=AutoFlag.Status.OPEN).update(
        status=AutoFlag.Status.CONFIRMED if is_upheld else AutoFlag.Status.DISMISSED, resolved_at=now
    )
    return case_refresh(case, resolved_by=actor)
