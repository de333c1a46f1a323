"""Writes for people and communities."""

import logging
import smtplib
from datetime import timedelta

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from community.errors import Conflict, NotAllowed, RequestRejected
from community.models import (
    AccessAuditEntry,
    Appeal,
    Community,
    Membership,
    ResearcherApplication,
    Sanction,
    User,
)

logger = logging.getLogger(__name__)


def community_create(
    *, name: str, slug: str, description: str = "", language: str = "en", licence_name: str = "CC BY 4.0"
) -> Community:
    community = Community(name=name, slug=slug, description=description, language=language, licence_name=licence_name)
    community.full_clean()
    community.save()
    return community


@transaction.atomic
def membership_accept_licence(*, user: User, community: Community) -> Membership:
    """Join `community` (if not yet a member) and accept its current data licence.

    The acceptance records the licence name, its version and the time, so a later change of
    terms can ask members to accept again.
    """
    membership, _ = Membership.objects.select_for_update().get_or_create(user=user, community=community)
    if not membership.has_current_licence:
        membership.licence_name = community.licence_name
        membership.licence_version = community.licence_version
        membership.licence_accepted_at = timezone.now()
        membership.save(update_fields=["licence_name", "licence_version", "licence_accepted_at"])
    return membership


LANGUAGE_CODES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "hi": "Hindi",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
    "ru": "Russian", "sw": "Swahili", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip


def volunteer_preferences_set(*, user: User, languages: list[str], topics: dict[str, list[str]]) -> User:
    """Set the languages a volunteer works in and, per community (by slug), the topics they pick.
    Empty lists mean "any". Unknown languages, communities or topics are rejected, nothing saved."""
    unknown_languages = sorted(set(languages) - set(LANGUAGE_CODES))
    if unknown_languages:
        raise RequestRejected(f"Unknown language: {', '.join(unknown_languages)}.")
    memberships = {m.community.slug: m for m in Membership.objects.filter(user=user).select_related("community")}
    for slug, chosen in topics.items():
        if slug not in memberships:
            raise RequestRejected("You can pick topics only in communities you joined.")
        unknown_topics = sorted(set(chosen) - set(memberships[slug].community.topics))
        if unknown_topics:
            raise RequestRejected(f"Unknown topic in {memberships[slug].community.name}: {', '.join(unknown_topics)}.")
    with transaction.atomic():
        user.languages = sorted(set(languages))
        user.save(update_fields=["languages"])
        for slug, chosen in topics.items():
            membership = memberships[slug]
            membership.topics = sorted(set(chosen))
            membership.save(update_fields=["topics"])
    return user


# Sanctions and appeals. Moderators reach these through `feedback.moderation.services`, which
# checks who may act and writes the audit log in the same transaction.

SANCTION_REASON_MAX_CHARS = 2000
APPEAL_TEXT_MAX_CHARS = 4000
SUSPENSION_MAX_DAYS = 3650


def reason_clean(reason: object, *, what: str = "a reason") -> str:
    """A non-empty reason of bounded length (every moderation action needs one)."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise RequestRejected(f"Give {what}: it is kept in the audit log and shown to the person concerned.")
    if len(text) > SANCTION_REASON_MAX_CHARS:
        raise RequestRejected(
            f"The reason is {len(text):,} characters long; the limit is {SANCTION_REASON_MAX_CHARS:,}."
        )
    return text


def suspension_days_clean(days: object) -> int:
    try:
        value = int(str(days).strip())
    except ValueError:
        raise RequestRejected("Give the length of the suspension in whole days.") from None
    if not 1 <= value <= SUSPENSION_MAX_DAYS:
        raise RequestRejected(f"A suspension lasts from 1 to {SUSPENSION_MAX_DAYS} days.")
    return value


def sanction_impose(
    *, actor: User, user: User, community: Community | None, kind: str, reason: str, days: int | None = None
) -> Sanction:
    """Warn, suspend for `days` or ban `user` in `community` (None: site-wide)."""
    if kind not in Sanction.Kind.values:
        raise RequestRejected("Choose a warning, a suspension or a ban.")
    if user.pk == actor.pk:
        raise RequestRejected("You cannot sanction yourself.")
    until = timezone.now() + timedelta(days=days) if kind == Sanction.Kind.SUSPEND else None
    if kind == Sanction.Kind.SUSPEND and days is None:
        raise RequestRejected("Give the length of the suspension in days.")
    return Sanction.objects.create(
        user=user, community=community, kind=kind, until=until, reason=reason, imposed_by=actor
    )


def sanction_lift(*, actor: User, sanction: Sanction) -> Sanction:
    """End a sanction now (it stays on record, with who lifted it and when)."""
    lifted = Sanction.objects.filter(pk=sanction.pk, lifted_at__isnull=True).update(
        lifted_at=timezone.now(), lifted_by=actor
    )
    if not lifted:
        raise Conflict("This sanction was already lifted.")
    sanction.refresh_from_db()
    return sanction


def appeal_submit(*, user: User, sanction_id: object, text: object) -> Appeal:
    """Appeal once against one's own suspension or ban that is still in force; a second appeal
    against the same sanction is a 409."""
    from community.selectors import sanction_get_for_owner

    body = text.strip() if isinstance(text, str) else ""
    if not body:
        raise RequestRejected("Say why the sanction should be lifted.")
    if len(body) > APPEAL_TEXT_MAX_CHARS:
        raise RequestRejected(f"The appeal is {len(body):,} characters long; the limit is {APPEAL_TEXT_MAX_CHARS:,}.")
    with transaction.atomic():
        sanction = sanction_get_for_owner(user=user, sanction_id=sanction_id)
        sanction = Sanction.objects.select_for_update(of=("self",)).select_related("community").get(pk=sanction.pk)
        if Appeal.objects.filter(sanction=sanction).exists():
            raise Conflict("You already appealed against this sanction; a sanction can be appealed once.")
        if not sanction.is_restriction:
            raise RequestRejected("A warning restricts nothing, so there is nothing to appeal.")
        if sanction.lifted_at is not None or (sanction.until is not None and sanction.until <= timezone.now()):
            raise Conflict("This sanction is no longer in force.")
        try:
            with transaction.atomic():
                return Appeal.objects.create(sanction=sanction, text=body)
        except IntegrityError:
            raise Conflict("You already appealed against this sanction; a sanction can be appealed once.") from None


def appeal_decide(*, actor: User, appeal: Appeal, is_granted: bool, reason: str) -> Appeal:
    """Grant an open appeal (the sanction is lifted) or reject it (the sanction stays)."""
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update(of=("self",)).select_related("sanction").get(pk=appeal.pk)
        if appeal.status != Appeal.Status.OPEN:
            raise Conflict("This appeal was already decided.")
        appeal.status = Appeal.Status.GRANTED if is_granted else Appeal.Status.REJECTED
        appeal.decided_by = actor
        appeal.decided_at = timezone.now()
        appeal.decision_reason = reason
        appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        if is_granted and appeal.sanction.lifted_at is None:
            sanction_lift(actor=actor, sanction=appeal.sanction)
        return appeal


# Researcher access. A person applies (purpose, affiliation, agreement to the researcher data
# terms); a platform admin approves (the person gets the role "researcher", which reads the live
# pool) or refuses, with a reason. Each decision is written to the access audit log in the same
# transaction, and the applicant is mailed once it is committed.

RESEARCHER_TERMS_VERSION = 1
RESEARCHER_PURPOSE_MAX_CHARS = 4000
RESEARCHER_AFFILIATION_MAX_CHARS = 200
# Roles that already read the live pool (feedback.researchapi.selectors.POOL_ROLES): nothing to apply for.
RESEARCHER_ACCESS_ROLES = (User.Role.RESEARCHER, User.Role.MODERATOR, User.Role.ADMIN)


def user_has_researcher_access(user: User) -> bool:
    """Whether the person's role already reads the live pool (researchers, moderators, admins)."""
    return bool(user.is_authenticated and (user.role in RESEARCHER_ACCESS_ROLES or user.is_superuser))


def _text_clean(value: object, *, missing: str, name: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise RequestRejected(missing)
    if len(text) > limit:
        raise RequestRejected(f"The {name} is {len(text):,} characters long; the limit is {limit:,}.")
    return text


def researcher_application_submit(
    *, user: User, purpose: object, affiliation: object, is_terms_accepted: object
) -> ResearcherApplication:
    """Apply for researcher access. 400 without a purpose, an affiliation or the agreement to the
    data terms; 409 while an application is pending or when the role already reads the pool."""
    if not user.is_authenticated or not user.is_active:
        raise NotAllowed("Log in to apply for researcher access.")
    clean_purpose = _text_clean(
        purpose,
        missing="Say what you want to do with the live pool.",
        name="purpose",
        limit=RESEARCHER_PURPOSE_MAX_CHARS,
    )
    clean_affiliation = _text_clean(
        affiliation,
        missing="Say where you work (a university, a lab, a company), or “independent”.",
        name="affiliation",
        limit=RESEARCHER_AFFILIATION_MAX_CHARS,
    )
    if is_terms_accepted is not True:
        raise RequestRejected("Agree to the researcher data terms to apply.")
    with transaction.atomic():
        # The person's row, locked, serialises their own applications (the partial unique
        # constraint is the guarantee; the lock only makes the answer a clear 409).
        person = User.objects.select_for_update().get(pk=user.pk)
        if user_has_researcher_access(person):
            raise Conflict(f"You already read the live pool: your role is {person.get_role_display().lower()}.")
        if ResearcherApplication.objects.filter(user=person, status=ResearcherApplication.Status.PENDING).exists():
            raise Conflict("Your application is waiting for an admin; you can apply again only if it is refused.")
        try:
            with transaction.atomic():
                return ResearcherApplication.objects.create(
                    user=person,
                    purpose=clean_purpose,
                    affiliation=clean_affiliation,
                    terms_version=RESEARCHER_TERMS_VERSION,
                )
        except IntegrityError:
            raise Conflict(
                "Your application is waiting for an admin; you can apply again only if it is refused."
            ) from None


def researcher_application_decide(
    *, actor: User, application_id: object, is_approved: object, reason: object, applicant_page_url: str
) -> ResearcherApplication:
    """Approve (the applicant gets the role "researcher") or refuse a pending application, with a
    reason, written to the access audit log; the applicant is mailed after the commit.
    403 for anyone but a platform admin, 404 for an unknown application, 400 without a reason
    or a decision, 409 once decided. Approval never lowers a role: an applicant who became a
    moderator or an admin meanwhile keeps that role."""
    from community.selectors import researcher_application_get_for_admin

    application = researcher_application_get_for_admin(viewer=actor, application_id=application_id)
    if is_approved not in (True, False):
        raise RequestRejected("Choose to approve or to refuse the application.")
    clean_reason = reason_clean(reason)
    with transaction.atomic():
        application = (
            ResearcherApplication.objects.select_for_update(of=("self",)).select_related("user").get(pk=application.pk)
        )
        if not application.is_pending:
            raise Conflict(f"This application was already decided: {application.get_status_display().lower()}.")
        applicant = User.objects.select_for_update().get(pk=application.user_id)
        role_before = applicant.role
        if is_approved and applicant.role == User.Role.VOLUNTEER:
            applicant.role = User.Role.RESEARCHER
            applicant.save(update_fields=["role"])
        application.status = (
            ResearcherApplication.Status.APPROVED if is_approved else ResearcherApplication.Status.REFUSED
        )
        application.decided_by = actor
        application.decided_at = timezone.now()
        application.decision_reason = clean_reason
        application.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        AccessAuditEntry.objects.create(
            actor=actor,
            subject=applicant,
            action=(
                AccessAuditEntry.Action.RESEARCHER_APPROVE if is_approved else AccessAuditEntry.Action.RESEARCHER_REFUSE
            ),
            application_id=application.pk,
            reason=clean_reason,
            role_before=role_before,
            role_after=applicant.role,
        )
        application.user = applicant
        transaction.on_commit(lambda: researcher_decision_mail_send(application, page_url=applicant_page_url))
    return application


def researcher_decision_mail_send(application: ResearcherApplication, *, page_url: str) -> bool:
    """Tell the applicant what was decided and why. The decision stands whatever happens to the
    mail: a failure to send is logged (the applicant's page shows the decision too)."""
    is_approved = application.status == ResearcherApplication.Status.APPROVED
    context = {"application": application, "is_approved": is_approved, "page_url": page_url}
    if is_approved:
        subject = "Feedback Commons: your researcher access was approved"
    else:
        subject = "Feedback Commons: your application for researcher access was refused"
    try:
        send_mail(
            subject=subject,
            message=render_to_string("community/email/researcher_decision.txt", context),
            from_email=None,
            recipient_list=[application.user.email],
        )
    except (smtplib.SMTPException, OSError):
        logger.exception("Could not mail the decision on researcher application %s", application.pk)
        return False
    return True
