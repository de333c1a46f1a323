"""The automatic scan: every text a person submits (arena prompts, better answers, donated
conversations) and every model answer once complete is checked in the background, and each
finding becomes an `AutoFlag` in the item's moderation case.

Two kinds of checks:

- text detectors (personal information, toxicity, spam phrases, another assistant's identity,
  language) from `feedback.moderation.detectors`, pure functions of the text;
- database checks written here: "duplicate" (the same normalised text, or a near duplicate by
  MinHash band keys, earlier in the community, in another conversation) and "rate" (a person
  who submitted more than `MODERATION_RATE_MAX_TEXTS` texts within
  `MODERATION_RATE_WINDOW_MINUTES`; at most one such flag per person per window).

Model answers get the text detectors only; duplicate and rate checks are about people.

The scan is idempotent: a `TextFingerprint` remembers the hash of the text it checked, so a
message is scanned again only when its text changed (an edit); a retried task changes nothing.
"""

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction

from feedback.models import AutoFlag, Donation, Message, MinhashBand, ModerationStatus, TextFingerprint
from feedback.models.moderation import Severity

DUPLICATE = "duplicate"
RATE = "rate"
NEAR_DUPLICATE_CANDIDATES_MAX = 50


@dataclass(frozen=True)
class DatabaseFinding:
    """A finding of a database check; the same fields as the detectors' `Finding`."""

    detector: str
    severity: str
    score: float
    detail: str


def text_normalised(text: str) -> str:
    """Case, accents' composition and runs of whitespace do not make a text new."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def text_hash(text: str) -> str:
    return hashlib.sha256(text_normalised(text).encode("utf-8")).hexdigest()


def message_source(message: Message) -> str:
    if message.role == Message.Role.ASSISTANT and message.endpoint_id:
        return TextFingerprint.Source.MODEL
    if Donation.objects.filter(conversation_id=message.conversation_id).exists():
        return TextFingerprint.Source.DONATION
    if message.role == Message.Role.ASSISTANT:
        return TextFingerprint.Source.CORRECTION
    return TextFingerprint.Source.ARENA


def message_submitter_id(message: Message) -> int | None:
    """Who submitted the text: its author, the donor of a donated answer, nobody for a model's."""
    if message.author_id:
        return message.author_id
    if message.external_model:
        return message.conversation.owner_id
    return None


# The database checks (no detector needed: testable on their own)


def exact_duplicate_find(*, fingerprint: TextFingerprint) -> DatabaseFinding | None:
    """An earlier person's text in the same community with the same normalised text, outside
    this conversation (a follow-up prompt is stored under both answers by design)."""
    earlier = (
        TextFingerprint.objects.filter(
            community_id=fingerprint.community_id,
            text_sha256=fingerprint.text_sha256,
            submitter__isnull=False,
            message_id__lt=fingerprint.message_id,
        )
        .exclude(conversation_id=fingerprint.conversation_id)
        .order_by("message_id")
        .values_list("message_id", "submitter_id")
        .first()
    )
    if earlier is None:
        return None
    message_id, submitter_id = earlier
    whose = "the same person" if submitter_id == fingerprint.submitter_id else "another person"
    return DatabaseFinding(DUPLICATE, Severity.MEDIUM, 1.0, f"Same text as message {message_id} (by {whose}).")


def near_duplicate_find(
    *, fingerprint: TextFingerprint, similarity: Callable[[Sequence[int], Sequence[int]], float]
) -> DatabaseFinding | None:
    """The most similar earlier person's text in the community that shares a MinHash band key
    with this one (outside this conversation), if its similarity reaches the threshold."""
    keys = list(fingerprint.bands.values_list("key", flat=True))
    if not keys:
        return None
    candidate_ids = (
        MinhashBand.objects.filter(community_id=fingerprint.community_id, key__in=keys)
        .exclude(fingerprint__conversation_id=fingerprint.conversation_id)
        .filter(fingerprint__message_id__lt=fingerprint.message_id)
        .values_list("fingerprint_id", flat=True)
        .distinct()[:NEAR_DUPLICATE_CANDIDATES_MAX]
    )
    best: tuple[float, int] | None = None
    for message_id, signature in TextFingerprint.objects.filter(pk__in=list(candidate_ids)).values_list(
        "message_id", "signature"
    ):
        score = similarity(fingerprint.signature, signature)
        if best is None or score > best[0] or (score == best[0] and message_id < best[1]):
            best = (score, message_id)
    if best is None or best[0] < settings.MODERATION_NEAR_DUPLICATE_SIMILARITY:
        return None
    score, message_id = best
    return DatabaseFinding(
        DUPLICATE,
        Severity.LOW,
        round(score, 4),
        f"Nearly the same text as message {message_id} (similarity {score:.2f}).",
    )


def rate_find(*, fingerprint: TextFingerprint) -> DatabaseFinding | None:
    """The person submitted more than MODERATION_RATE_MAX_TEXTS texts (arena prompts and better
    answers; a follow-up prompt stored under both answers counts once) within the window ending
    at this text, and has no rate flag within that window yet."""
    if fingerprint.submitter_id is None or fingerprint.source not in (
        TextFingerprint.Source.ARENA,
        TextFingerprint.Source.CORRECTION,
    ):
        return None
    window = timedelta(minutes=settings.MODERATION_RATE_WINDOW_MINUTES)
    end = fingerprint.submitted_at
    start = end - window
    count = (
        TextFingerprint.objects.filter(
            submitter_id=fingerprint.submitter_id,
            source__in=[TextFingerprint.Source.ARENA, TextFingerprint.Source.CORRECTION],
            submitted_at__gt=start,
            submitted_at__lte=end,
        )
        .values("conversation_id", "text_sha256")
        .distinct()
        .count()
    )
    limit = settings.MODERATION_RATE_MAX_TEXTS
    if count <= limit:
        return None
    already = AutoFlag.objects.filter(
        detector=RATE, created_at__gt=start, message__fingerprint__submitter_id=fingerprint.submitter_id
    ).exists()
    if already:
        return None
    minutes = settings.MODERATION_RATE_WINDOW_MINUTES
    return DatabaseFinding(
        RATE, Severity.MEDIUM, float(count), f"{count} texts within {minutes} minutes (the limit is {limit})."
    )


def fingerprint_store(
    *, message: Message, text_sha256: str, signature: Sequence[int], band_keys: Iterable[int]
) -> TextFingerprint:
    """Remember the scanned text of a message (replacing what an earlier scan stored). Band
    keys are kept only for people's texts, the only ones compared for duplicates."""
    submitter_id = message_submitter_id(message)
    fingerprint, _ = TextFingerprint.objects.update_or_create(
        message=message,
        defaults={
            "community_id": message.conversation.community_id,
            "conversation_id": message.conversation_id,
            "submitter_id": submitter_id,
            "source": message_source(message),
            "text_sha256": text_sha256,
            "signature": list(signature) if submitter_id else [],
            "submitted_at": message.created_at,
        },
    )
    fingerprint.bands.all().delete()
    if submitter_id:
        MinhashBand.objects.bulk_create(
            [
                MinhashBand(fingerprint=fingerprint, community_id=fingerprint.community_id, key=key)
                for key in sorted(set(band_keys))
            ]
        )
    return fingerprint


def flags_store(*, message: Message, findings: Iterable) -> list[AutoFlag]:
    """One open flag per finding, in the message's case (opened again if it was resolved)."""
    from feedback.moderation.services.cases import case_for_target_locked, case_refresh

    findings = list(findings)
    if not findings:
        return []
    case = case_for_target_locked(message=message)
    flags = AutoFlag.objects.bulk_create(
        [
            AutoFlag(
                case=case,
                community_id=case.community_id,
                message=message,
                detector=finding.detector,
                severity=finding.severity,
                score=float(finding.score),
                detail=finding.detail,
            )
            for finding in findings
        ]
    )
    case_refresh(case)
    return flags


def expected_languages(message: Message) -> list[str]:
    """The languages a text may be in: the community's, and the author's own."""
    languages = [message.conversation.community.language.split("-")[0]]
    if message.author_id:
        languages += [code for code in message.author.languages if code not in languages]
    return languages


def message_scan(*, message_id: int) -> list[AutoFlag]:
    """Scan one message (if its text is new to the scan) and store its flags."""
    from feedback.moderation.detectors import text_findings
    from feedback.moderation.minhash import band_keys, signature, similarity

    message = Message.objects.select_related("conversation__community", "author").filter(pk=message_id).first()
    if message is None or not message.text.strip() or message.moderation_status == ModerationStatus.REMOVED:
        return []
    digest = text_hash(message.text)
    if TextFingerprint.objects.filter(message=message, text_sha256=digest).exists():
        return []  # scanned already, text unchanged
    findings = list(text_findings(message.text, role=message.role, expected_languages=expected_languages(message)))
    is_person = message_submitter_id(message) is not None
    long_enough = len(text_normalised(message.text)) >= settings.MODERATION_DUPLICATE_MIN_CHARS
    minhash = signature(message.text) if is_person and long_enough else []
    keys = band_keys(minhash) if minhash else []
    try:
        with transaction.atomic():
            locked = Message.objects.select_for_update().filter(pk=message.pk).values_list("text", flat=True).first()
            if locked is None or text_hash(locked) != digest:
                return []  # changed or deleted meanwhile: the scan of the new text handles it
            if TextFingerprint.objects.filter(message=message, text_sha256=digest).exists():
                return []
            fingerprint = fingerprint_store(message=message, text_sha256=digest, signature=minhash, band_keys=keys)
            if is_person:
                if long_enough:
                    duplicate = exact_duplicate_find(fingerprint=fingerprint) or near_duplicate_find(
                        fingerprint=fingerprint, similarity=similarity
                    )
                    if duplicate is not None:
                        findings.append(duplicate)
                rate = rate_find(fingerprint=fingerprint)
                if rate is not None:
                    findings.append(rate)
            return flags_store(message=message, findings=findings)
    except IntegrityError:
        return []  # another worker scanned it at the same moment


@shared_task(name="feedback.moderation_scan", time_limit=300, acks_late=True, ignore_result=True)
def moderation_scan(message_ids: list[int]) -> None:
    """Scan these messages (ids); idempotent, so a retry or a duplicate delivery is harmless."""
    for message_id in message_ids:
        message_scan(message_id=message_id)


def scan_after_commit(messages: Iterable[Message]) -> None:
    """Queue the scan of these messages once the transaction that wrote them commits."""
    ids = [message.pk for message in messages]
    if ids:
        transaction.on_commit(lambda: moderation_scan.delay(ids))
