"""`manage.py selection_report` on a real release built by the release code from a pool made through the services."""

import json
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from community.tests.factories import MembershipFactory, UserFactory
from feedback.arena import services as arena
from feedback.models import Release
from feedback.releases.merkle import canonical_json, leaf_hash, merkle_root
from feedback.releases.services import release_build
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import battle_ready
from training.selection import selection_proof

pytestmark = pytest.mark.django_db

MOON = "The moon pulls the oceans toward it, and the earth turns beneath the bulge."
WIND = "Wind pushes the water."
SPAM = "Visit my shop for the best tide tables at half price today."


@pytest.fixture
def release_dir(tmp_path, settings):
    """A built release: battle 1 (moon over wind), battle 2 the same pair again, battle 3 whose
    chosen answer a volunteer flagged as spam, battle 4 a tie (no pair)."""
    settings.RELEASES_DIR = tmp_path / "releases"
    first = battle_ready(text_a=MOON, text_b=WIND)
    community, judge = first.community, first.judge
    second = battle_ready(judge=judge, community=community, text_a=WIND, text_b=MOON)
    third = battle_ready(judge=judge, community=community, text_a=SPAM, text_b=WIND)
    fourth = battle_ready(judge=judge, community=community, text_a="Gravity.", text_b="The sun.")
    for battle, winner in ((first, "model_a"), (second, "model_b"), (third, "model_a"), (fourth, "tie")):
        arena.battle_vote_cast(judge=judge, battle_id=battle.pk, winner=winner, idempotency_key=uuid.uuid4())
    reviewer = MembershipFactory(community=community, user=UserFactory()).user
    while (assignment := task_next(volunteer=reviewer, kind="flag")) is not None:
        labels = ["spam"] if assignment.item.answer_id == third.answer_a_id else []
        responses.flag_submit(volunteer=reviewer, assignment_id=assignment.pk, labels=labels)
    release = Release.objects.create(community=community, version=1)
    release = release_build(release_id=release.pk)
    assert release.status == "ready"
    return Path(settings.RELEASES_DIR) / release.folder, (first, second, third)


def run(*args):
    out = StringIO()
    call_command("selection_report", *args, stdout=out)
    return out.getvalue()


def test_the_command_reports_and_writes_a_manifest_whose_root_and_proofs_check(release_dir, tmp_path):
    folder, (first, second, third) = release_dir
    manifest_path = tmp_path / "selection.json"
    output = json.loads(run("--release-dir", str(folder), "--json", "--manifest-out", str(manifest_path)))
    report = output["report"]
    assert report["records_in"] == 3 and output["records_kept"] == 1
    removed = {entry["name"]: [example["id"] for example in entry["examples"]] for entry in report["filters"]}
    assert removed == {
        "language": [],
        "quality": [],
        "flags": [f"battle-{third.pk}"],
        "agreement": [],
        "exact_duplicates": [f"battle-{second.pk}"],
        "near_duplicates": [],
        "perplexity": [],
        "mixing": [],
    }
    release_manifest = json.loads((folder / "manifest.json").read_text())
    assert report["release"]["merkle_root"] == release_manifest["merkle_root"]

    # The selection root over the kept line equals an independent computation from the file.
    lines = [line for line in (folder / "preferences.jsonl").read_text().split("\n") if line.strip()]
    kept_line = next(line for line in lines if json.loads(line)["id"] == f"battle-{first.pk}")
    assert output["selection_merkle_root"] == merkle_root([canonical_json(json.loads(kept_line))]).hex()
    manifest = json.loads(manifest_path.read_text())
    assert manifest["merkle_root"] == output["selection_merkle_root"]
    battles_rows = release_manifest["files"][0]["rows"]
    assert manifest["kept"] == [
        {
            "id": f"battle-{first.pk}",
            "leaf_index": battles_rows + lines.index(kept_line),
            "leaf_hash": leaf_hash(canonical_json(json.loads(kept_line))).hex(),
        }
    ]
    assert selection_proof(manifest, kept_line.encode(), release_dir=folder)["included"] is True
    flagged_line = next(line for line in lines if json.loads(line)["id"] == f"battle-{third.pk}")
    absent = selection_proof(manifest, flagged_line.encode(), release_dir=folder)
    assert (absent["included"], absent["in_release"]) == (False, True)


def test_the_markdown_report_and_options(release_dir):
    folder, (first, second, third) = release_dir
    text = run("--release-dir", str(folder), "--keep-flagged", "--languages", "en")
    assert "Kept **2** of 3 preference records." in text
    assert "| flags (off) | 3 | 0 | 3 |" in text
    assert text.splitlines()[-1].startswith("Selection Merkle root: ")
    nothing = json.loads(run("--release-dir", str(folder), "--json", "--languages", "fr"))
    assert nothing["records_kept"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-repetition", "2"], "max_repetition is a share from 0 to 1"),
        (["--mixing-weights", "en"], "--mixing-weights takes GROUP=WEIGHT pairs"),
        (["--min-agreement", "0.5"], "--min-agreement needs --agreement FILE"),
        (["--perplexity-max", "50"], "--perplexity-max needs --perplexity-model"),
        (["--perplexity-model", "nowhere", "--perplexity-max", "5"], "is not a model folder"),
    ],
)
def test_bad_options_are_a_clear_error(release_dir, args, message):
    folder, _ = release_dir
    with pytest.raises(CommandError, match=message):
        run("--release-dir", str(folder), *args)


def test_a_folder_that_is_not_a_release_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="is not a release folder: it has no manifest.json"):
        run("--release-dir", str(tmp_path))


def test_every_released_pair_finds_its_chosen_answer_in_the_message_trees(tmp_path, settings):
    """The flag filter's join (a pair's prompt and chosen answer = one path of a message tree)
    holds for arena pairs and for corrections, on a release with both."""
    from feedback.tests.test_releases import pool_with_everything
    from training.selection.release import _ROLES, _ROOT, _path_hash

    settings.RELEASES_DIR = tmp_path / "releases"
    battle = pool_with_everything()
    release = release_build(release_id=Release.objects.create(community=battle.community, version=1).pk)
    folder = Path(settings.RELEASES_DIR) / release.folder
    chains, paths = {}, set()
    for line in (folder / "message_trees.jsonl").read_text().split("\n"):
        if line.strip():
            message = json.loads(line)
            parent = _ROOT if message["parent_id"] is None else chains[message["parent_id"]]
            chains[message["message_id"]] = _path_hash(parent, _ROLES[message["role"]], message["text"])
            paths.add(chains[message["message_id"]])
    records = [json.loads(line) for line in (folder / "preferences.jsonl").read_text().split("\n") if line.strip()]
    assert sorted(record["source"] for record in records) == ["arena", "correction"]
    for record in records:
        chain = _ROOT
        for message in [*record["prompt"], *record["chosen"]]:
            chain = _path_hash(chain, message["role"], message["content"])
        assert chain in paths, record["id"]
