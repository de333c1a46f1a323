"""Volunteers racing for an item's last slots: it never gets more than k responses.

Real threads, each with its own database connection, request a task at the same moment
(a row lock on the item on PostgreSQL; IMMEDIATE transactions on SQLite)."""

import threading

import pytest
from django.db import connection

from community.tests.factories import MembershipFactory, UserFactory
from feedback.models import TaskAssignment, TaskItem
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next
from feedback.tests.factories import battle_ready

pytestmark = pytest.mark.django_db(transaction=True)

RATINGS = {"helpfulness": 4, "correctness": 5, "harmlessness": 5}


def all_at_once(work, count: int) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 (reported to the test below)
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_eight_volunteers_race_for_three_slots():
    battle = battle_ready()
    TaskItem.objects.exclude(kind="rate", answer=battle.answer_a).delete()
    item = TaskItem.objects.get()
    assert item.required_responses == 3
    volunteers = [MembershipFactory(community=battle.community, user=UserFactory()).user for _ in range(8)]

    def serve_and_answer(index: int):
        assignment = task_next(volunteer=volunteers[index], kind="rate")
        if assignment is None:
            return None
        responses.rating_submit(volunteer=volunteers[index], assignment_id=assignment.pk, ratings=RATINGS)
        return assignment.pk

    results = all_at_once(serve_and_answer, 8)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sum(1 for r in results if r is not None) == 3
    item.refresh_from_db()
    assert item.response_count == 3
    assert TaskAssignment.objects.filter(item=item).count() == 3
    assert TaskAssignment.objects.filter(item=item, status="answered").count() == 3
