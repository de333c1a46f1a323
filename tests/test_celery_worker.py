"""Jobs through a real Celery worker on the configured broker (files by default, Redis in CI)."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from feedback.tests.factories import ModelEndpointFactory
from inference.models import ModelEndpoint
from inference.tasks import endpoints_check_health

pytestmark = [pytest.mark.celery_worker]


@pytest.fixture
def celery_worker():
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10) as worker:
        yield worker


def wait_until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_the_worker_checks_endpoint_health(celery_worker, fake_endpoints_url, closed_port_url):
    up = ModelEndpointFactory(base_url=f"{fake_endpoints_url}/ok/v1", model_id="alpha")
    wrong_model = ModelEndpointFactory(base_url=f"{fake_endpoints_url}/ok/v1", model_id="gamma")
    down = ModelEndpointFactory(base_url=closed_port_url)

    endpoints_check_health.delay(endpoint_ids=[up.pk, wrong_model.pk, down.pk])

    assert wait_until(lambda: not ModelEndpoint.objects.filter(health_checked_at__isnull=True).exists())
    health = dict(ModelEndpoint.objects.values_list("pk", "health"))
    assert health == {up.pk: "up", wrong_model.pk: "down", down.pk: "down"}
    assert ModelEndpoint.objects.get(pk=wrong_model.pk).health_detail == "The server does not serve 'gamma'."


@pytest.mark.django_db(serialized_rollback=True)
def test_the_schedule_lives_in_the_database():
    """Seeded by a migration, editable by admins (django-celery-beat's DatabaseScheduler)."""
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="inference.endpoints_check_health")
    assert (task.interval.every, task.interval.period, task.enabled) == (60, "seconds", True)
