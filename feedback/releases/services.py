"""Writes for releases: start a build, build it (in Celery), edit its datasheet, publish it.

A release is built into a hidden folder and renamed into place only when every file, the
manifest and the datasheet are written, so no one ever sees a half-written release. Once
published it never changes: its files, manifest and datasheet are final.
"""

import json
import logging
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from community.errors import Conflict, NotAllowed
from community.models import Community, User
from feedback.jobs.lease import (
    LEASE_FIELDS,
    LeaseKeeper,
    LeaseLost,
    lease_end,
    lease_grant,
    lease_kept,
    leases_reap,
    queued_jobs_resend,
)
from feedback.models import Release
from feedback.releases import pool
from feedback.releases.datasheet import datasheet_generate, release_notes_generate
from feedback.releases.formats import (
    EXPORT_KINDS,
    battle_record,
    claim_record,
    message_record,
    preference_record_from_correction,
    preference_records_from_battle,
    unpaired_record,
)
from feedback.releases.writers import ReleaseWriter, dataset_dict_save, memory_settle

logger = logging.getLogger(__name__)

# The progress bar moves every this many records within the two long stages.
PROGRESS_EVERY = 20_000


def release_may_build(*, user: User, community: Community | None) -> bool:
    """Admins build any release; moderators a community's (issue: admin or community owner)."""
    if not user.is_authenticated:
        return False
    return user.is_platform_admin or (community is not None and user.is_moderator)


def release_build_start(*, actor: User | None, community: Community | None) -> Release:
    """Queue a build of the next version. Starting it again while one is queued or building
    returns that build (idempotent)."""
    if actor is not None and not release_may_build(user=actor, community=community):
        raise NotAllowed("Only admins (and moderators, for a community) build releases.")
    release_builds_reap()  # a build whose worker died is failed here, so it never blocks a new one
    in_flight = Release.objects.filter(community=community, status__in=[Release.Status.QUEUED, Release.Status.BUILDING])
    try:
        with transaction.atomic():
            existing = in_flight.first()
            if existing is not None:
                return existing
            last = Release.objects.filter(community=community).aggregate(last=Max("version"))["last"] or 0
            release = Release.objects.create(
                community=community, version=last + 1, created_by=actor, enqueued_at=timezone.now()
            )
            from feedback.tasks import release_build_task

            transaction.on_commit(lambda: release_build_task.delay(release.pk))
            return release
    except IntegrityError:  # a concurrent start won the race
        return in_flight.get()


def release_builds_reap() -> list[Release]:
    """Fail every build whose worker stopped answering (its lease ran out) and remove its
    partial files, and send again the task of a build queued too long (its message may have
    been lost with a killed worker). Runs on every start of a build and every minute on the
    schedule."""
    from feedback.tasks import release_build_task

    queued_jobs_resend(Release, send=lambda release: release_build_task.delay(release.pk))
    return leases_reap(Release, cleanup=_partial_files_remove)


def _work_folder(release: Release) -> Path:
    """Where a release is built before it is renamed into place."""
    return Path(settings.RELEASES_DIR) / f".{release.name}.building"


def _partial_files_remove(release: Release) -> None:
    """A failed build's files: its work folder, and its final folder if it died right after the rename."""
    shutil.rmtree(_work_folder(release), ignore_errors=True)
    shutil.rmtree(Path(settings.RELEASES_DIR) / release.name, ignore_errors=True)


def _progress(keeper: LeaseKeeper, progress: int, stage: str) -> None:
    """Show the build's progress; it renews the lease too (LeaseLost if the build was declared dead)."""
    keeper.renew(progress=progress, stage=stage)


def release_build(*, release_id: int) -> Release:
    """Build a queued release's files. Idempotent: a release no longer queued (built, failed, or
    building under another worker, when a task is delivered twice) is returned as it is.

    The worker holds a lease on the release while it builds (feedback/jobs/lease.py): if it dies,
    `release_builds_reap` fails the build and removes its folder; if it was declared dead but
    comes back, it stops at its next step and writes nothing more."""
    with transaction.atomic():
        release = Release.objects.select_for_update(of=("self",)).select_related("community").get(pk=release_id)
        if release.status != Release.Status.QUEUED:
            return release
        release.status = Release.Status.BUILDING
        release.started_at = timezone.now()
        lease = lease_grant(release)
        release.save(update_fields=["status", "started_at", *LEASE_FIELDS])

    final = Path(settings.RELEASES_DIR) / release.name
    work = _work_folder(release)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    is_renamed = False
    try:
        with lease_kept(lease) as keeper:
            manifest = _files_write(release, work, keeper)
            _progress(keeper, 90, "Writing the datasheet")
            previous = (
                Release.objects.filter(community=release.community, status=Release.Status.PUBLISHED)
                .exclude(pk=release.pk)
                .order_by("-version")
                .first()
            )
            release.manifest = manifest
            release.merkle_root = manifest["merkle_root"]
            release.datasheet = datasheet_generate(release=release, manifest=manifest)
            release.notes = release_notes_generate(release=release, manifest=manifest, previous=previous)
            (work / "manifest.json").write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            (work / "DATASHEET.md").write_text(release.datasheet, encoding="utf-8")
            (work / "RELEASE_NOTES.md").write_text(release.notes, encoding="utf-8")
            _progress(keeper, 95, "Putting the release in place")
            if final.exists():
                shutil.rmtree(final)
            work.rename(final)
            is_renamed = True
            release.folder = final.name
            release.status = Release.Status.READY
            release.progress = 100
            release.stage = "Built"
            release.finished_at = timezone.now()
            lease_end(
                lease,
                **{
                    field: getattr(release, field)
                    for field in (
                        "folder",
                        "status",
                        "progress",
                        "stage",
                        "finished_at",
                        "manifest",
                        "merkle_root",
                        "datasheet",
                        "notes",
                    )
                },
            )
    except LeaseLost:
        # Declared dead meanwhile: the release is failed already, with the reason; leave nothing.
        shutil.rmtree(final if is_renamed else work, ignore_errors=True)
        logger.warning("Release %s was failed while its worker still built it; the build stopped", release.pk)
        return Release.objects.get(pk=release.pk)
    except BaseException as error:  # an error, the soft time limit, the worker shutting down
        shutil.rmtree(final if is_renamed else work, ignore_errors=True)
        logger.exception("Release %s failed", release.pk)
        try:
            lease_end(
                lease,
                status=Release.Status.FAILED,
                error=str(error)[:2000] or type(error).__name__,
                finished_at=timezone.now(),
            )
        except LeaseLost:
            pass
        raise
    release.refresh_from_db()
    return release


def _files_write(release: Release, folder: Path, keeper: LeaseKeeper) -> dict:
    community = release.community
    pseudonyms = pool.Pseudonyms(release.pk)
    languages: Counter = Counter()
    models: Counter = Counter()
    left_out: Counter = Counter()
    memory_settle()
    with ReleaseWriter(folder) as writer:
        stage = "Writing arena battles, their preference pairs and the message trees"
        _progress(keeper, 5, stage)
        total = pool.tree_messages_count(community=community)
        # One pass over the conversations: each battle and its preference pair, and each
        # message of the trees, written side by side.
        number = 0
        for kind, item in pool.battles_and_messages(community=community, pseudonyms=pseudonyms):
            if kind == pool.MESSAGE:
                writer.write("message_trees", message_record(item))
                number += 1
                if number % PROGRESS_EVERY == 0:
                    _progress(keeper, 5 + 65 * number // max(total, number), stage)
                    memory_settle()  # three kinds written side by side for minutes: hand back freed heap
                continue
            writer.write("battles", battle_record(item))
            languages[item["language"]] += 1
            models[item["model_a"]] += 1
            models[item["model_b"]] += 1
            pairs = preference_records_from_battle(item)
            if not pairs:
                left_out["battles without a preference (tie, both bad or different histories)"] += 1
            for pair in pairs:
                writer.write("preferences", pair)
        writer.finish("battles")
        writer.finish("message_trees")
        memory_settle()
        _progress(keeper, 70, "Writing preference pairs of corrections")
        for correction in pool.corrections(community=community, pseudonyms=pseudonyms):
            writer.write("preferences", preference_record_from_correction(correction))
        writer.finish("preferences")
        memory_settle()
        _progress(keeper, 72, "Writing rated answers")
        for answer in pool.rated_answers(community=community):
            record = unpaired_record(answer)
            if record is None:
                left_out["rated answers with a middling or no helpfulness score"] += 1
            else:
                writer.write("unpaired", record)
        writer.finish("unpaired")
        memory_settle()
        _progress(keeper, 80, "Writing claim annotations")
        for annotation in pool.claim_annotations(community=community):
            writer.write("claims", claim_record(annotation))
    _progress(keeper, 85, "Saving the DatasetDict")
    memory_settle()
    parquet_sha256 = {entry["name"]: entry["sha256"] for entry in writer.files if entry["format"] == "parquet"}
    dataset_dict_save(folder, EXPORT_KINDS, parquet_sha256=parquet_sha256)
    return {
        "name": release.name,
        "community": community.slug if community else None,
        "version": release.version,
        "licence": community.licence_name if community else "Each record's own licence (see its licence field)",
        "licence_url": community.licence_url if community else None,
        "created_at": timezone.now().isoformat(),
        "code_version": _code_version(),
        "files": writer.files,
        "counts": {"by_kind": writer.counts, "by_language": dict(languages), "by_model": dict(models)},
        "filters": [
            "arena conversations with at least one vote, and donated conversations whose answers passed review",
            "items hidden or removed by moderators, and conversations with an open high-severity flag, left out",
            "votes of judges the community's trust policy excludes left out",
            "people's better answers only once they passed their quality gate (k peer reviews)",
            "contributors who asked for erasure left out",
            "personal information redacted (feedback/privacy/pii.py)",
            "contributor ids replaced by per-release pseudonyms (keyed HMAC-SHA256)",
        ],
        "left_out": dict(left_out),
        "merkle_root": writer.merkle_root,
        "merkle_tree_size": writer.leaf_count,
        "merkle_leaves": "each line of the JSONL files, file by file in the order of `files`, as canonical JSON",
    }


def _code_version() -> str:
    try:
        result = subprocess.run(  # noqa: S603
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() or "unknown"


def release_datasheet_edit(*, actor: User, release_id: int, datasheet: str) -> Release:
    with transaction.atomic():
        release = Release.objects.select_for_update(of=("self",)).select_related("community").get(pk=release_id)
        if not release_may_build(user=actor, community=release.community):
            raise NotAllowed("Only admins (and moderators, for a community) edit datasheets.")
        if release.status != Release.Status.READY:
            raise Conflict("Only a built release that is not yet published can be edited.")
        if not isinstance(datasheet, str) or not datasheet.strip():
            from community.errors import RequestRejected

            raise RequestRejected("The datasheet cannot be empty.")
        release.datasheet = datasheet
        release.save(update_fields=["datasheet"])
        (Path(settings.RELEASES_DIR) / release.folder / "DATASHEET.md").write_text(datasheet, encoding="utf-8")
        return release


def release_publish(*, actor: User | None, release_id: int) -> Release:
    """Publish a built release: from now on it is public and never changes."""
    with transaction.atomic():
        release = Release.objects.select_for_update(of=("self",)).select_related("community").get(pk=release_id)
        if actor is not None and not release_may_build(user=actor, community=release.community):
            raise NotAllowed("Only admins (and moderators, for a community) publish releases.")
        if release.status == Release.Status.PUBLISHED:
            return release
        if release.status != Release.Status.READY:
            raise Conflict("Only a built release can be published.")
        release.status = Release.Status.PUBLISHED
        release.published_at = timezone.now()
        release.save(update_fields=["status", "published_at"])
        return release
