"""Reads for moderation: what is visible (expressions other querysets reuse), the moderator
queue, one case with its context, the audit log and open appeals. Every lookup from user input
checks that the viewer may see it.

Visibility expressions (for releases, leaderboards, the task queue, the research API):

- `message_is_visible_q(prefix)`: the message and its conversation are visible (neither hidden
  nor removed by moderation). Two indexed columns on rows the query already reads, plus the
  conversation join by primary key: no subquery, cheap on millions of rows.
- `donation_is_visible_q(prefix)`: the donation was donated and its conversation is visible.
- `battle_is_visible_q(prefix)`: the battle's conversation, both answers and both prompts of its
  turn are visible (joins on the battle's own foreign keys).
- `has_open_high_severity_flag_q(prefix)`: an open high-severity automatic flag on the message:
  an `Exists` probe on a partial index (`auto_flag_open_high_message`).

`prefix` is the path from the queryset's model to the message (or battle, donation), with its
trailing "__": `Battle.objects.filter(battle_is_visible_q())`,
`TaskItem.objects.filter(message_is_visible_q("answer__"))`.
"""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from community.errors import NotAllowed
from community.models import Appeal, Community, Sanction, User
from community.selectors import communities_moderated_by, user_may_moderate
from feedback.arena.selectors import message_history
from feedback.models import (
    AuditEntry,
    AutoFlag,
    Battle,
    Donation,
    Message,
    ModerationCase,
    ModerationStatus,
    Report,
    ReportReason,
    Severity,
)
from feedback.models.moderation import SEVERITY_RANK

VISIBLE = ModerationStatus.VISIBLE


def message_is_visible_q(prefix: str = "") -> Q:
    """Messages neither hidden nor removed, in a conversation neither hidden nor removed."""
    return Q(**{f"{prefix}moderation_status": VISIBLE, f"{prefix}conversation__moderation_status": VISIBLE})


def visible_messages() -> QuerySet[Message]:
    """Every message a user, a task or a release may show."""
    return Message.objects.filter(message_is_visible_q())


def donation_is_visible_q(prefix: str = "") -> Q:
    """Donated conversations whose conversation is neither hidden nor removed."""
    return Q(
        **{
            f"{prefix}status": Donation.Status.DONATED,
            f"{prefix}conversation__isnull": False,
            f"{prefix}conversation__moderation_status": VISIBLE,
        }
    )


def battle_is_visible_q(prefix: str = "") -> Q:
    """Battles that count: none of the turn's prompt(s) or answers, nor the conversation, is
    hidden or removed. (A follow-up prompt is stored under each side's answer, so both parents.)"""
    return Q(
        **{
            f"{prefix}conversation__moderation_status": VISIBLE,
            f"{prefix}answer_a__moderation_status": VISIBLE,
            f"{prefix}answer_b__moderation_status": VISIBLE,
            f"{prefix}answer_a__parent__moderation_status": VISIBLE,
            f"{prefix}answer_b__parent__moderation_status": VISIBLE,
        }
    )


def visible_battles() -> QuerySet[Battle]:
    return Battle.objects.filter(battle_is_visible_q())


def has_open_high_severity_flag_q(prefix: str = "") -> Q:
    """The message carries an open automatic flag of high severity (the quality gate keeps such
    an item out of the accepted pool until a moderator decides)."""
    flags = AutoFlag.objects.filter(
        message_id=OuterRef(f"{prefix}pk"), status=AutoFlag.Status.OPEN, severity=Severity.HIGH
    )
    return Q(Exists(flags))


def conversation_flagged_high_q(outer: str = "conversation_id") -> Q:
    """An open high-severity automatic flag on any message of the row's conversation (`outer`
    names the column that holds the conversation's id). What is under review stays out of
    releases and leaderboards until a moderator decides; conservative: one flagged follow-up
    keeps the conversation's earlier turns out too."""
    flags = AutoFlag.objects.filter(
        message__conversation_id=OuterRef(outer), status=AutoFlag.Status.OPEN, severity=Severity.HIGH
    )
    return Q(Exists(flags))


def answer_accepted_q() -> Q:
    """On Message: an answer moderation lets out (releases, the research API): it and its
    prompt visible, and no open high-severity flag in its conversation. People's answers also
    need their quality gate (`gates.message_accepted_q`); models' answers do not."""
    return message_is_visible_q() & message_is_visible_q("parent__") & ~conversation_flagged_high_q()


def battle_accepted_q() -> Q:
    """The battles moderation accepts, for releases and leaderboards alike: every prompt and
    answer of the turn visible, no open high-severity flag in the conversation, and a judge the
    community's trust policy does not exclude (`gates.battles_accepted_q`)."""
    from feedback.moderation.gates import battles_accepted_q

    return battle_is_visible_q() & battles_accepted_q() & ~conversation_flagged_high_q()


# Who wrote what


def message_submitter(message: Message) -> User | None:
    """The person who submitted a message: its author, or for a donated conversation's answers
    the donor; None for our models' answers."""
    if message.author_id:
        return message.author
    if message.external_model:
        return message.conversation.owner
    return None


def message_kind_label(message: Message) -> str:
    if message.role == Message.Role.USER:
        return "Prompt"
    if message.author_id:
        return "Better answer (correction)"
    if message.external_model:
        return f"Answer by {message.external_model} (donated)"
    return "Model answer"


# The queue


QUEUE_STATUSES = ("open", "resolved", "all")


@dataclass(frozen=True)
class QueueFilters:
    community: Community | None
    problem: str
    severity: str
    status: str


def queue_filters_clean(
    *, viewer: User, community_slug: str = "", problem: str = "", severity: str = "", status: str = "open"
) -> QueueFilters:
    """Check the queue's filters: a community the viewer moderates (403 otherwise), a known
    severity and status; an unknown problem simply matches nothing."""
    community = None
    if community_slug:
        community = Community.objects.filter(slug=community_slug).first()
        if community is None:
            raise Http404("No community with that name.")
        if not user_may_moderate(user=viewer, community=community):
            raise NotAllowed(f"You do not moderate {community.name}.")
    if severity and severity not in Severity.values:
        severity = ""
    if status not in QUEUE_STATUSES:
        status = "open"
    return QueueFilters(community=community, problem=problem or "", severity=severity or "", status=status)


def moderation_queue(*, viewer: User, filters: QueueFilters) -> QuerySet[ModerationCase]:
    """Cases in the communities the viewer moderates, most severe first, then oldest first,
    each with its reports and flags (open ones for open cases) prefetched."""
    communities = [filters.community] if filters.community else communities_moderated_by(user=viewer)
    cases = ModerationCase.objects.filter(community__in=communities)
    if filters.status != "all":
        cases = cases.filter(status=filters.status)
    if filters.severity:
        cases = cases.filter(severity=SEVERITY_RANK[Severity(filters.severity)])
    only_open = filters.status == "open"
    report_scope = Report.objects.filter(status=Report.Status.OPEN) if only_open else Report.objects.all()
    flag_scope = AutoFlag.objects.filter(status=AutoFlag.Status.OPEN) if only_open else AutoFlag.objects.all()
    if filters.problem:
        cases = cases.filter(
            Q(Exists(report_scope.filter(case=OuterRef("pk"), reason=filters.problem)))
            | Q(Exists(flag_scope.filter(case=OuterRef("pk"), detector=filters.problem)))
        )
    return (
        cases.select_related("community", "message__conversation", "donation")
        .prefetch_related(
            Prefetch("reports", queryset=report_scope.order_by("created_at", "pk"), to_attr="listed_reports"),
            Prefetch("flags", queryset=flag_scope.order_by("created_at", "pk"), to_attr="listed_flags"),
        )
        .order_by("-severity", "opened_at", "pk")
    )


def queue_problem_choices(*, viewer: User) -> list[tuple[str, str]]:
    """Report reasons, then the detectors that flagged something in the viewer's communities."""
    detectors = (
        AutoFlag.objects.filter(community__in=communities_moderated_by(user=viewer))
        .values_list("detector", flat=True)
        .distinct()
        .order_by("detector")
    )
    return [(value, f"Report: {label}") for value, label in ReportReason.choices] + [
        (name, f"Automatic: {name.replace('_', ' ')}") for name in detectors
    ]


# One case


def case_get_for_moderator(*, viewer: User, case_id: object, for_update: bool = False) -> ModerationCase:
    """The case, for a moderator of its community or an admin: 404 if there is none, 403 for
    anyone else."""
    cases = ModerationCase.objects.select_related(
        "community", "message__conversation__owner", "message__author", "donation__owner"
    )
    if for_update:
        cases = cases.select_for_update(of=("self",))
    try:
        case = cases.get(pk=case_id)
    except (ModerationCase.DoesNotExist, ValueError, TypeError):
        raise Http404("No such moderation case.") from None
    if not user_may_moderate(user=viewer, community=case.community):
        raise NotAllowed(f"Only moderators of {case.community.name} and admins can see this case.")
    return case


def case_subject(case: ModerationCase) -> User | None:
    """Whose contribution the case is about (None for a model's answer)."""
    if case.message_id:
        return message_submitter(case.message)
    return case.donation.owner


def case_context(*, case: ModerationCase) -> dict:
    """What the item page shows: the text in its conversation, the reports and flags, and the
    author's history (sanctions, earlier moderation of their contributions)."""
    context: dict = {"case": case, "message": None, "donation": None}
    if case.message_id:
        message = case.message
        context["message"] = message
        context["content"] = message
        context["kind_label"] = message_kind_label(message)
        context["history"] = message_history(message=message)[:-1]
        context["corrects"] = message.corrects
    else:
        donation = case.donation
        context["donation"] = donation
        context["content"] = donation.conversation
        context["kind_label"] = "Donated conversation"
        context["conversation_messages"] = (
            list(donation.conversation.messages.select_related("moderation_case").order_by("created_at", "pk"))
            if donation.conversation_id
            else []
        )
    context["reports"] = list(case.reports.select_related("reporter").order_by("-created_at", "-pk"))
    context["flags"] = list(case.flags.order_by("-created_at", "-pk"))
    subject = case_subject(case)
    context["subject"] = subject
    target_kind, target_id = (
        (AuditEntry.TargetKind.MESSAGE, case.message_id)
        if case.message_id
        else (AuditEntry.TargetKind.DONATION, case.donation_id)
    )
    context["item_audit"] = list(
        AuditEntry.objects.filter(target_kind=target_kind, target_id=target_id).select_related("actor")[:50]
    )
    if subject is not None:
        context["subject_sanctions"] = list(
            Sanction.objects.filter(user=subject).select_related("community", "imposed_by", "appeal")[:50]
        )
        context["subject_audit"] = list(
            AuditEntry.objects.filter(subject=subject)
            .exclude(target_kind=target_kind, target_id=target_id)
            .select_related("actor", "community")[:20]
        )
    return context


# Appeals and the audit log


def appeals_open_for(*, viewer: User) -> QuerySet[Appeal]:
    """Open appeals the viewer may decide: against sanctions in communities they moderate,
    and (admins) site-wide ones."""
    appeals = Appeal.objects.filter(status=Appeal.Status.OPEN).select_related(
        "sanction__user", "sanction__community", "sanction__imposed_by"
    )
    if viewer.is_platform_admin:
        return appeals.order_by("created_at", "pk")
    return appeals.filter(sanction__community__in=communities_moderated_by(user=viewer)).order_by("created_at", "pk")


def appeal_get_for_moderator(*, viewer: User, appeal_id: object) -> Appeal:
    try:
        appeal = Appeal.objects.select_related("sanction__community", "sanction__user").get(pk=appeal_id)
    except (Appeal.DoesNotExist, ValueError, TypeError):
        raise Http404("No such appeal.") from None
    if not user_may_moderate(user=viewer, community=appeal.sanction.community):
        raise NotAllowed("Only moderators of the sanction's community (admins for site-wide ones) decide this appeal.")
    return appeal


def audit_entries_for_admin(
    *, viewer: User, community_slug: str = "", action: str = "", actor_email: str = "", target_kind: str = ""
) -> QuerySet[AuditEntry]:
    """The whole audit log, newest first, for admins only (403 for anyone else)."""
    if not (viewer.is_authenticated and viewer.is_platform_admin):
        raise NotAllowed("Only admins can read the audit log.")
    entries = AuditEntry.objects.select_related("actor", "community", "subject")
    if community_slug:
        entries = entries.filter(community__slug=community_slug)
    if action:
        entries = entries.filter(action=action)
    if actor_email:
        entries = entries.filter(actor__email__icontains=actor_email)
    if target_kind:
        entries = entries.filter(target_kind=target_kind)
    return entries.order_by("-created_at", "-pk")
