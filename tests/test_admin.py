"""The admin pages of every model open for an admin (and for nobody else)."""

import pytest
from django.contrib import admin

from community.models import User
from feedback.tests.factories import battle_ready

pytestmark = pytest.mark.django_db


def test_every_registered_model_lists_and_opens(client):
    battle = battle_ready()
    client.force_login(User.objects.create_superuser(email="root@example.org", password="x-long-password"))
    for model in admin.site._registry:
        meta = model._meta
        response = client.get(f"/admin/{meta.app_label}/{meta.model_name}/")
        assert response.status_code == 200, meta.label
    assert client.get(f"/admin/feedback/battle/{battle.pk}/change/").status_code == 200
    assert client.get("/admin/feedback/taskitem/add/").status_code == 200


def test_volunteers_cannot_open_the_admin(client):
    client.force_login(User.objects.create_user(email="v@example.org", password="x-long-password"))
    assert client.get("/admin/feedback/taskitem/").status_code == 302


def test_the_endpoints_health_check_is_queued_from_the_admin(client, django_capture_on_commit_callbacks):
    """The action imports its task when it runs (not at start-up) and still queues it."""
    from config.celery import app
    from inference.models import ModelEndpoint

    endpoint = ModelEndpoint.objects.create(name="down", kind="openai", base_url="http://127.0.0.1:9/v1", model_id="m")
    client.force_login(User.objects.create_superuser(email="root@example.org", password="x-long-password"))
    app.conf.task_always_eager = True
    try:
        response = client.post(
            "/admin/inference/modelendpoint/",
            {"action": "check_health_now", "_selected_action": [endpoint.pk]},
            follow=True,
        )
    finally:
        app.conf.task_always_eager = False
    assert "Health check queued" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.health == "down"
