"""The run and model pages through HTTP: who starts, cancels and retries runs, who reads their logs
(anonymous, volunteer, researcher, moderator, owner, admin), the polled progress, the model pages."""

import uuid

import pytest
from django.urls import reverse

from community.models import Membership, User
from community.tests.factories import MembershipFactory, UserFactory
from training.models import Run
from training.tests.runs_setup import community_with_votes, release_published

pytestmark = pytest.mark.django_db

WHO = ["anonymous", "volunteer", "researcher", "moderator", "owner", "admin"]
ALLOWED = {"owner", "admin"}


@pytest.fixture(autouse=True)
def folders(tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MODELS_DIR = tmp_path / "models"


@pytest.fixture
def published():
    community, owner, _ = community_with_votes(votes=2)
    release_published(community)
    return community, owner


def log_in(client, who, community, owner):
    user = {
        "anonymous": lambda: None,
        "volunteer": lambda: MembershipFactory(community=community).user,
        "researcher": lambda: UserFactory(role=User.Role.RESEARCHER),
        "moderator": lambda: MembershipFactory(community=community, role=Membership.Role.MODERATOR).user,
        "owner": lambda: owner,
        "admin": lambda: UserFactory(role=User.Role.ADMIN),
    }[who]()
    if user is not None:
        client.force_login(user)
    return user


@pytest.mark.parametrize("who", WHO)
def test_train_now_cancel_and_retry_only_for_the_owner_and_admins(client, published, who):
    community, owner = published
    log_in(client, who, community, owner)
    failed = Run.objects.create(community=community, method="dpo", status=Run.Status.FAILED, error="secret /srv path")
    queued = Run.objects.create(community=community, method="dpo", release=failed.release)
    runs = Run.objects.count()
    start = client.post(
        reverse("training:run_start", args=[community.slug]),
        {"method": "dpo", "max_steps": "3", "idempotency_key": uuid.uuid4().hex},
    )
    cancel = client.post(reverse("training:run_cancel", args=[queued.pk]))
    retry = client.post(reverse("training:run_retry", args=[failed.pk]))
    page = client.get(reverse("training:runs", args=[community.slug]))
    detail = client.get(reverse("training:run", args=[failed.pk]))
    assert page.status_code == detail.status_code == 200
    if who in ALLOWED:
        new = Run.objects.exclude(pk__in=[failed.pk, queued.pk]).order_by("pk")
        assert start.status_code == 302
        assert start["Location"] == reverse("training:run", args=[new[0].pk])
        assert new[0].config["training"] == {"max_steps": 3}
        assert cancel.status_code == 302
        assert retry.status_code == 302
        assert new[1].retry_of == failed
        queued.refresh_from_db()
        assert queued.status == "cancelled"
        assert b"Train now" in page.content
        assert b"The run failed: secret /srv path" in detail.content
        assert b'id="run-log"' in detail.content
        return
    assert (start.status_code, cancel.status_code, retry.status_code) == (403, 403, 403)
    assert start.content == b"Only the community's owner and admins start training runs."
    assert Run.objects.count() == runs
    queued.refresh_from_db()
    assert (queued.status, queued.cancel_requested_at) == ("queued", None)
    assert b"Train now" not in page.content
    assert b"secret /srv path" not in detail.content
    assert b"The run failed. Its owner sees why on this page." in detail.content
    assert b'id="run-log"' not in detail.content


def test_bad_input_to_train_now_is_a_400_and_records_nothing(client, published):
    community, owner = published
    client.force_login(owner)
    for data, message in [
        ({"method": "kto"}, b"Unknown training method 'kto': use one of reward, dpo, sft."),
        ({"method": "dpo", "max_steps": "many"}, b"max_steps must be a whole number."),
        ({"method": "dpo", "release": "v1"}, b"The release is a version number."),
        ({"method": "dpo", "release": "7"}, f"{community.slug} has no published release v7.".encode()),
    ]:
        response = client.post(reverse("training:run_start", args=[community.slug]), data)
        assert (response.status_code, response.content) == (400, message)
    assert Run.objects.count() == 0
    assert client.post(reverse("training:run_start", args=["nowhere"]), {"method": "dpo"}).status_code == 404
    assert client.get(reverse("training:run", args=[999])).status_code == 404
    assert client.get(reverse("training:model", args=[999])).status_code == 404


def test_the_same_idempotency_key_posted_twice_makes_one_run(client, published):
    community, owner = published
    client.force_login(owner)
    data = {"method": "dpo", "idempotency_key": "form-1"}
    first = client.post(reverse("training:run_start", args=[community.slug]), data)
    second = client.post(reverse("training:run_start", args=[community.slug]), data)
    assert first["Location"] == second["Location"]
    assert Run.objects.count() == 1


def test_the_polled_progress_fragment_stops_polling_once_the_run_ended(client, published):
    community, owner = published
    run = Run.objects.create(
        community=community, method="dpo", status=Run.Status.RUNNING, progress=42, stage="Training: step 21 of 50"
    )
    url = reverse("training:run", args=[run.pk])
    fragment = client.get(f"{url}?part=progress", headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="run-progress"')
    assert 'hx-trigger="every 2s"' in html
    assert 'value="42"' in html and "Training: step 21 of 50" in html
    assert "HX-Request" in fragment["Vary"]
    Run.objects.filter(pk=run.pk).update(status=Run.Status.CANCELLED, stage="Cancelled", error="Cancelled by x.")
    ended = client.get(f"{url}?part=progress", headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in ended
    assert "Cancelled by x. Nothing was kept." in ended


def test_the_models_page_is_public_and_links_every_communitys_runs(client, published):
    community, _ = published
    response = client.get(reverse("training:models"))
    assert response.status_code == 200
    assert reverse("training:runs", args=[community.slug]).encode() in response.content
    assert b"No model trained yet." in response.content
