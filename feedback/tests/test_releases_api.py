"""Release pages and API: who sees what, downloads, and record proofs that verify offline."""

import json

import pytest
from django.urls import reverse

from community.tests.factories import UserFactory
from feedback.models import Release
from feedback.releases.merkle import canonical_json, verify_audit_path
from feedback.releases.services import release_build, release_publish
from feedback.tests.test_releases import pool_with_everything

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "volunteer", "researcher", "moderator", "admin"]


@pytest.fixture(autouse=True)
def releases_dir(tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"


@pytest.fixture
def published():
    battle = pool_with_everything()
    release = Release.objects.create(community=battle.community, version=1)
    release_build(release_id=release.pk)
    return release_publish(actor=None, release_id=release.pk)


def login(client, role):
    if role != "anonymous":
        client.force_login(UserFactory(role=role))


def test_a_proof_verifies_offline_and_tampering_fails(client, published):
    assert client.get(f"/api/v1/releases/{published.pk}/proof/no-such-record").status_code == 404
    battle_id = json.loads((published_path(published) / "battles.jsonl").read_text().splitlines()[0])["id"]
    response = client.get(f"/api/v1/releases/{published.pk}/proof/{battle_id}?file=battles")
    assert response.status_code == 200, response.content
    proof = response.json()
    assert (proof["file"], proof["leaf_index"], proof["tree_size"]) == (
        "battles",
        0,
        published.manifest["merkle_tree_size"],
    )
    assert proof["root"] == published.merkle_root
    leaf = canonical_json(proof["record"])
    path = [bytes.fromhex(node) for node in proof["audit_path"]]
    root = bytes.fromhex(proof["root"])
    assert verify_audit_path(leaf, proof["leaf_index"], proof["tree_size"], path, root)
    changed = canonical_json({**proof["record"], "winner": "model_b"})
    assert not verify_audit_path(changed, proof["leaf_index"], proof["tree_size"], path, root)
    assert not verify_audit_path(leaf, proof["leaf_index"], proof["tree_size"], [bytes(32)] + path[1:], root)
    assert not verify_audit_path(leaf, proof["leaf_index"], proof["tree_size"], path, bytes(32))


def published_path(release):
    from feedback.releases.selectors import release_folder

    return release_folder(release)


def test_an_id_in_several_files_needs_the_file(client, published):
    message_id = json.loads((published_path(published) / "claims.jsonl").read_text().splitlines()[0])["answer_id"]
    ambiguous = client.get(f"/api/v1/releases/{published.pk}/proof/{message_id}")
    assert ambiguous.status_code == 409
    assert "add ?file=<name>" in ambiguous.json()["detail"]
    assert client.get(f"/api/v1/releases/{published.pk}/proof/{message_id}?file=claims").json()["file"] == "claims"


@pytest.mark.parametrize("role", ROLES)
def test_published_releases_are_public(client, published, role):
    login(client, role)
    assert client.get("/releases/").status_code == 200
    page = client.get(f"/releases/{published.pk}/")
    assert page.status_code == 200
    assert published.merkle_root in page.content.decode()
    listed = client.get("/api/v1/releases/").json()
    assert [r["name"] for r in listed] == [published.name]
    download = client.get(f"/api/v1/releases/{published.pk}/files/battles.jsonl")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).count(b"\n") == 1
    assert client.get(f"/api/v1/releases/{published.pk}/files/manifest.json").status_code == 200
    assert client.get(f"/api/v1/releases/{published.pk}/files/..%2Fsecrets").status_code == 404
    assert client.get("/api/v1/releases/999999/").status_code == 404


@pytest.mark.parametrize(
    ("role", "sees"),
    [("anonymous", False), ("volunteer", False), ("researcher", False), ("moderator", True), ("admin", True)],
)
def test_unpublished_releases_only_for_builders(client, role, sees):
    battle = pool_with_everything()
    draft = release_build(release_id=Release.objects.create(community=battle.community, version=1).pk)
    login(client, role)
    assert (client.get(f"/releases/{draft.pk}/").status_code == 200) is sees
    assert (client.get(f"/api/v1/releases/{draft.pk}/").status_code == 200) is sees


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 403), ("volunteer", 403), ("researcher", 403), ("moderator", 302), ("admin", 302)],
)
def test_only_builders_start_a_build_and_twice_is_one_build(client, role, status):
    battle = pool_with_everything()
    login(client, role)
    first = client.post(reverse("feedback:release_start"), {"community": battle.community.slug})
    assert first.status_code == status
    if status == 302:
        second = client.post(reverse("feedback:release_start"), {"community": battle.community.slug})
        assert second["Location"] == first["Location"]
        assert Release.objects.count() == 1
    else:
        assert Release.objects.count() == 0


def test_publishing_is_for_builders_and_final(client):
    battle = pool_with_everything()
    draft = release_build(release_id=Release.objects.create(community=battle.community, version=1).pk)
    client.force_login(UserFactory(role="admin"))
    assert client.post(f"/releases/{draft.pk}/datasheet/", {"datasheet": ""}).status_code == 400
    assert client.post(f"/releases/{draft.pk}/datasheet/", {"datasheet": "# Mine\n"}).status_code == 302
    assert client.post(f"/releases/{draft.pk}/publish/").status_code == 302
    assert client.post(f"/releases/{draft.pk}/datasheet/", {"datasheet": "# Later\n"}).status_code == 409
    draft.refresh_from_db()
    assert (draft.status, draft.datasheet) == ("published", "# Mine\n")
