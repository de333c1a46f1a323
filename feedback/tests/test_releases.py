"""Building, publishing and verifying releases from a pool made through the real services."""

import json
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from community.models import ErasureRequest
from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena import services as arena
from feedback.models import Release
from feedback.releases.merkle import canonical_json, merkle_root
from feedback.releases.services import release_build, release_build_start, release_datasheet_edit, release_publish
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import battle_ready, claims_proposed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def releases_dir(tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"
    return settings.RELEASES_DIR


def pool_with_everything():
    """A voted battle whose prompt holds an e-mail address, a correction, ratings, flags and a claim check."""
    battle = battle_ready(text_a="Write to ada@example.org for tides.", text_b="Wind makes tides.")
    arena.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())
    reviewer = MembershipFactory(community=battle.community, user=UserFactory(email="rev@example.org")).user
    for _ in range(2):
        assignment = task_next(volunteer=reviewer, kind="rate")
        responses.rating_submit(
            volunteer=reviewer,
            assignment_id=assignment.pk,
            ratings={
                "helpfulness": 5 if assignment.item.answer_id == battle.answer_a_id else 1,
                "correctness": 3,
                "harmlessness": 5,
            },
        )
    writer = MembershipFactory(community=battle.community).user
    responses.correction_submit(
        volunteer=writer, assignment_id=task_next(volunteer=writer, kind="correct").pk, text="The moon."
    )
    correction_reviews(battle)
    claims_proposed(answer=battle.answer_b, texts=["Wind makes tides."])
    checker = task_next(volunteer=reviewer, kind="check_claims")
    claim = checker.item.answer.claims.get()
    responses.claims_check_submit(
        volunteer=reviewer, assignment_id=checker.pk, claims=[{"id": claim.pk, "text": claim.text, "verdict": "false"}]
    )
    return battle


def correction_reviews(battle):
    """Three more reviewers rate whatever the queue serves them until the correction has the
    three passing reviews its quality gate needs (docs/moderation.md): only accepted
    corrections are released. The answers keep their helpfulness: A good, B bad."""
    from feedback.models import Message, ReviewGate

    correction = Message.objects.get(corrects__isnull=False)
    for _ in range(3):
        reviewer = MembershipFactory(community=battle.community).user
        while (assignment := task_next(volunteer=reviewer, kind="rate")) is not None:
            responses.rating_submit(
                volunteer=reviewer,
                assignment_id=assignment.pk,
                ratings={
                    "helpfulness": 1 if assignment.item.answer_id == battle.answer_b_id else 5,
                    "correctness": 5,
                    "harmlessness": 5,
                },
            )
    assert ReviewGate.objects.get(message=correction).is_accepted


def build(community, actor=None):
    release = Release.objects.create(
        community=community, version=Release.objects.filter(community=community).count() + 1
    )
    return release_build(release_id=release.pk)


def test_a_release_holds_every_kind_redacted_and_pseudonymous(releases_dir):
    battle = pool_with_everything()
    release = build(battle.community)
    folder = Path(releases_dir) / release.folder
    assert release.status == "ready"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"]["by_kind"] == {
        "battles": 1,
        "preferences": 2,
        "unpaired": 3,
        "message_trees": 4,
        "claims": 1,
    }
    assert [f["name"] for f in manifest["files"]][:2] == ["battles", "battles"] or len(manifest["files"]) >= 5
    battles = [json.loads(line) for line in (folder / "battles.jsonl").read_text().splitlines()]
    record = battles[0]
    assert (record["winner"], record["anony"], record["turn"]) == ("model_a", True, 1)
    assert record["judge"].startswith("contributor-")
    assert "[EMAIL]" in record["conversation_a"][-1]["content"]
    everything = "".join(path.read_text() for path in folder.glob("*.jsonl"))
    assert "ada@example.org" not in everything
    assert "rev@example.org" not in everything and battle.judge.email not in everything
    assert (folder / "DATASHEET.md").read_text().startswith(f"# Datasheet: {release.name}")
    assert "## Collection process" in release.datasheet

    # The Merkle root commits to the JSONL lines, file by file, as canonical JSON.
    leaves = []
    for kind in ["battles", "preferences", "unpaired", "message_trees", "claims"]:
        leaves += [
            canonical_json(json.loads(line)) for line in (folder / f"{kind}.jsonl").read_text().splitlines() if line
        ]
    assert merkle_root(leaves).hex() == release.merkle_root == manifest["merkle_root"]
    assert manifest["merkle_tree_size"] == len(leaves) == 11


def test_the_files_load_with_datasets(releases_dir):
    import datasets

    battle = pool_with_everything()
    release = build(battle.community)
    folder = Path(releases_dir) / release.folder
    preferences = datasets.load_dataset("json", data_files=str(folder / "preferences.jsonl"), split="train")
    assert sorted(row["source"] for row in preferences) == ["arena", "correction"]
    battles = datasets.load_dataset("parquet", data_files=str(folder / "battles.parquet"), split="train")
    assert battles[0]["winner"] == "model_a"
    whole = datasets.load_from_disk(str(folder / "dataset_dict"))
    assert whole["unpaired"].num_rows == 3


def test_pseudonyms_differ_between_releases_and_erasure_is_honoured(releases_dir):
    battle = pool_with_everything()
    first = build(battle.community)
    release_publish(actor=None, release_id=first.pk)
    ErasureRequest.objects.create(user_pk=battle.judge.pk)
    second = build(battle.community)
    assert second.manifest["counts"]["by_kind"]["battles"] == 0
    assert "Changes since version 1" in second.notes
    judge_1 = json.loads((Path(releases_dir) / first.folder / "battles.jsonl").read_text().splitlines()[0])["judge"]
    assert judge_1.startswith("contributor-")


def test_starting_twice_returns_the_same_build_and_published_releases_are_final():
    battle = battle_ready()
    admin = UserFactory(role="admin")
    first = release_build_start(actor=admin, community=battle.community)
    again = release_build_start(actor=admin, community=battle.community)
    assert first.pk == again.pk and first.status == "queued"
    built = release_build(release_id=first.pk)
    assert release_build(release_id=first.pk).finished_at == built.finished_at  # idempotent
    edited = release_datasheet_edit(actor=admin, release_id=built.pk, datasheet="# Edited\n")
    assert edited.datasheet == "# Edited\n"
    release_publish(actor=admin, release_id=built.pk)
    from community.errors import Conflict, NotAllowed

    with pytest.raises(Conflict):
        release_datasheet_edit(actor=admin, release_id=built.pk, datasheet="# Changed after publishing\n")
    with pytest.raises(NotAllowed):
        release_build_start(actor=UserFactory(role="volunteer"), community=battle.community)
    assert Release.objects.get(pk=built.pk).datasheet == "# Edited\n"


def test_the_command_builds_publishes_and_prints_the_folder(capsys, releases_dir):
    battle = pool_with_everything()
    call_command("release_build", "--community", battle.community.slug)
    out = capsys.readouterr().out.strip().splitlines()
    folder = Path(out[-1])
    assert folder.parent == Path(releases_dir)
    assert (folder / "manifest.json").exists()
    assert Release.objects.get().status == "published"


def test_the_schedule_queues_a_build_of_every_community(django_capture_on_commit_callbacks):
    from community.tests.factories import CommunityFactory
    from feedback.tasks import releases_build_all

    CommunityFactory.create_batch(2)
    with django_capture_on_commit_callbacks() as callbacks:
        releases_build_all()
    assert Release.objects.filter(status="queued").count() == 2
    assert len(callbacks) == 2  # one build task each, sent after commit


def test_a_message_stores_its_redaction_and_a_release_never_trusts_a_stale_one(releases_dir):
    from feedback.models import Message
    from feedback.privacy.pii import text_key

    battle = battle_ready(text_a="Call +44 20 7946 0018 for tides.", text_b="Wind makes tides.")
    arena.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())
    answer = Message.objects.get(pk=battle.answer_a_id)
    assert answer.text_redacted == "Call [PHONE] for tides." and answer.redacted_from == text_key(answer.text)
    clean = Message.objects.get(pk=battle.answer_b_id)
    assert clean.text_redacted == "" and clean.redacted_from == text_key(clean.text)  # "" = nothing to redact
    # A text changed behind the model's back (no save) keeps its old redaction: never used.
    Message.objects.filter(pk=answer.pk).update(text="Write to ada@example.org instead.")
    release = build(battle.community)
    battles = (Path(releases_dir) / release.folder / "battles.jsonl").read_text()
    assert "Write to [EMAIL] instead." in battles
    assert "ada@example.org" not in battles and "Call [PHONE]" not in battles
    # Saving through the model recomputes it.
    answer.refresh_from_db()
    answer.text = "Mail bob@example.com."
    answer.save(update_fields=["text"])
    answer.refresh_from_db()
    assert (answer.text_redacted, answer.redacted_from) == ("Mail [EMAIL].", text_key("Mail bob@example.com."))


def test_a_correction_by_someone_erased_leaves_the_trees_of_other_peoples_conversations(releases_dir):
    battle = pool_with_everything()
    from feedback.models import Message

    correction = Message.objects.get(corrects__isnull=False)
    ErasureRequest.objects.create(user_pk=correction.author_id)
    release = build(battle.community)
    folder = Path(releases_dir) / release.folder
    trees = [json.loads(line) for line in (folder / "message_trees.jsonl").read_text().splitlines()]
    assert f"m-{correction.pk}" not in {message["message_id"] for message in trees}
    assert len(trees) == 3  # the prompt and the two model answers stay
    assert "The moon." not in (folder / "preferences.jsonl").read_text()


def released_battle_ids(releases_dir, community):
    release = build(community)
    lines = (Path(releases_dir) / release.folder / "battles.jsonl").read_text().splitlines()
    return [json.loads(line)["id"] for line in lines]


def test_moderation_decides_what_a_release_holds(releases_dir):
    """Hidden answers, open high-severity flags and excluded judges keep a battle out; a
    moderator's acceptance lets it back in."""
    from feedback.models import Message, ModerationCase, ModerationStatus
    from feedback.moderation.scan import message_scan
    from feedback.moderation.services.actions import case_act

    kept = battle_ready(text_a="Tides follow the moon.", text_b="Wind makes tides.")
    arena.battle_vote_cast(judge=kept.judge, battle_id=kept.pk, winner="model_a", idempotency_key=uuid.uuid4())
    flagged = battle_ready(
        community=kept.community,
        judge=kept.judge,
        text_a="Pay with card 4111 1111 1111 1111 today.",
        text_b="No card needed.",
    )
    arena.battle_vote_cast(judge=flagged.judge, battle_id=flagged.pk, winner="model_b", idempotency_key=uuid.uuid4())
    hidden = battle_ready(community=kept.community, judge=kept.judge, text_a="Nonsense.", text_b="Also nonsense.")
    arena.battle_vote_cast(judge=hidden.judge, battle_id=hidden.pk, winner="tie", idempotency_key=uuid.uuid4())
    Message.objects.filter(pk=hidden.answer_b_id).update(moderation_status=ModerationStatus.HIDDEN)
    flags = message_scan(message_id=flagged.answer_a_id)
    assert any(flag.severity == "high" for flag in flags)  # a payment card

    assert released_battle_ids(releases_dir, kept.community) == [f"battle-{kept.pk}"]

    admin = UserFactory(role="admin")
    case = ModerationCase.objects.get(message_id=flagged.answer_a_id)
    case_act(actor=admin, case_id=case.pk, action="accept", reason="A test card number from the docs.")
    assert released_battle_ids(releases_dir, kept.community) == [f"battle-{kept.pk}", f"battle-{flagged.pk}"]


def test_a_judge_the_trust_policy_excludes_leaves_the_release(releases_dir):
    from feedback.models import ContributorTrust
    from feedback.moderation.trust_policy import policy_for

    battle = battle_ready(text_a="Tides follow the moon.", text_b="Wind makes tides.")
    arena.battle_vote_cast(judge=battle.judge, battle_id=battle.pk, winner="model_a", idempotency_key=uuid.uuid4())
    assert released_battle_ids(releases_dir, battle.community) == [f"battle-{battle.pk}"]
    policy = policy_for(community=battle.community)
    policy.trust_mode = "exclude"
    policy.save()
    ContributorTrust.objects.create(
        user=battle.judge, community=battle.community, gold_accuracy=0.0, gold_answers=50, computed_at=timezone.now()
    )
    assert released_battle_ids(releases_dir, battle.community) == []
