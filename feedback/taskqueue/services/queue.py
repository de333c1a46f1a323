"""Serving tasks: the next item for a volunteer, reserved for a while, and skipping it."""

import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from community.errors import Conflict, NotAllowed
from community.models import User
from community.selectors import sanction_in_force, sanction_refusal_message
from feedback.models import TaskAssignment, TaskItem
from feedback.taskqueue.selectors import (
    assignment_get_for_volunteer,
    assignment_open_for,
    memberships_contributing,
    task_items_available,
)
from feedback.taskqueue.weights import task_kinds_in_draw_order, task_weights_for

_ATTEMPTS_PER_KIND = 5


def task_next(
    *, volunteer: User, community_slug: str | None = None, kind: str | None = None, rng: random.Random | None = None
) -> TaskAssignment | None:
    """Reserve the next task for the volunteer and return its assignment, or None if there is
    no work for them right now.

    A task the volunteer was served and can still answer, in the community and of the kind
    asked for, is returned again (a reload shows the same task; a run-out reservation is
    renewed while the item has a free slot). Otherwise the kind is drawn by the community's
    weights among the kinds with work; gold items come first at the community's gold rate;
    within a kind the item closest to completion goes first. The item row is locked while its
    free slots are counted, so several volunteers racing for an item's last slot cannot
    over-fill it.
    """
    rng = rng or random.Random()  # noqa: S311 (fair sampling, not cryptography)
    served = assignment_open_for(volunteer=volunteer, community_slug=community_slug, kind=kind)
    if served is not None and sanction_in_force(user=volunteer, community=served.item.community) is None:
        served = _reservation_renew(served)
        if served is not None:
            return served
    memberships = memberships_contributing(volunteer=volunteer, community_slug=community_slug)
    if not memberships:
        raise NotAllowed("Join a community and accept its data licence to get tasks.")
    # A suspension or ban in a community stops its tasks; with none left, say why.
    refusals = [sanction_in_force(user=volunteer, community=m.community) for m in memberships]
    if all(refusals):
        raise NotAllowed(sanction_refusal_message(refusals[0]))
    memberships = [m for m, refusal in zip(memberships, refusals, strict=True) if refusal is None]

    available = task_items_available(volunteer=volunteer, memberships=memberships)
    if kind:
        available = available.filter(kind=kind)
    kinds_with_work = set(available.values_list("kind", flat=True).distinct())
    weights: dict[str, float] = {}
    for membership in memberships:
        for name, weight in task_weights_for(membership.community.task_weights).items():
            weights[name] = max(weights.get(name, 0.0), weight)
    gold_rate = max(m.community.gold_rate for m in memberships)
    gold_first = rng.random() < gold_rate

    for item_kind in task_kinds_in_draw_order(weights, kinds_with_work, rng):
        for is_gold in (gold_first, not gold_first):
            assignment = _reserve_one(volunteer, available.filter(kind=item_kind, is_gold=is_gold))
            if assignment is not None:
                return assignment
    return None


def _reservation_renew(assignment: TaskAssignment) -> TaskAssignment | None:
    """The assignment with a live reservation: as it is while it lasts; run out, renewed if the
    item still has a slot nobody else holds (counted with the item row locked), else None."""
    if assignment.reserved_until > timezone.now():
        return assignment
    with transaction.atomic():
        item = TaskItem.objects.select_for_update().get(pk=assignment.item_id)
        now = timezone.now()
        reserved = (
            item.assignments.filter(status=TaskAssignment.Status.RESERVED, reserved_until__gt=now)
            .exclude(pk=assignment.pk)
            .count()
        )
        if item.response_count + reserved >= item.required_responses:
            return None
        renewed = TaskAssignment.objects.filter(pk=assignment.pk, status=TaskAssignment.Status.RESERVED).update(
            reserved_until=now + timedelta(minutes=settings.TASK_RESERVATION_MINUTES)
        )
        if not renewed:
            return None  # answered or skipped meanwhile (another tab)
    assignment.refresh_from_db(fields=["reserved_until", "status"])
    return assignment


def _reserve_one(volunteer: User, candidates) -> TaskAssignment | None:
    for _ in range(_ATTEMPTS_PER_KIND):
        with transaction.atomic():
            item = candidates.order_by("-response_count", "created_at", "pk").select_for_update(of=("self",)).first()
            if item is None:
                return None
            now = timezone.now()
            reserved = item.assignments.filter(status=TaskAssignment.Status.RESERVED, reserved_until__gt=now).count()
            if item.response_count + reserved >= item.required_responses:
                continue  # filled up since the candidates were counted: try the next one
            return TaskAssignment.objects.create(
                item=item,
                volunteer=volunteer,
                reserved_until=now + timedelta(minutes=settings.TASK_RESERVATION_MINUTES),
            )
    return None


def task_skip(*, volunteer: User, assignment_id: object) -> TaskAssignment:
    """Skip a served task: it is released for others and never served to this volunteer again."""
    with transaction.atomic():
        assignment = assignment_get_for_volunteer(volunteer=volunteer, assignment_id=assignment_id)
        assignment = TaskAssignment.objects.select_for_update().get(pk=assignment.pk)
        if assignment.status == TaskAssignment.Status.ANSWERED:
            raise Conflict("You already answered this task.")
        if assignment.status == TaskAssignment.Status.RESERVED:
            assignment.status = TaskAssignment.Status.SKIPPED
            assignment.save(update_fields=["status"])
        return assignment


def item_slot_take(*, item: TaskItem) -> None:
    """Count one more response for the item, unless it already has all it needs (then 409).

    Called inside the transaction that stores the response, so both happen or neither."""
    taken = TaskItem.objects.filter(pk=item.pk, response_count__lt=F("required_responses")).update(
        response_count=F("response_count") + 1
    )
    if not taken:
        raise Conflict("This item already has all the responses it needs. Thank you: here is another task.")
