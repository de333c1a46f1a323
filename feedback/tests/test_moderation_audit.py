"""The audit log is append-only through every interface."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from feedback.models import AppendOnly, AuditEntry
from feedback.moderation.services import audit_record
from feedback.tests.moderation_setup import admin_user, world_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry():
    world = world_create()
    return audit_record(
        actor=world.moderator,
        community=world.community,
        action=AuditEntry.Action.HIDE,
        target_kind=AuditEntry.TargetKind.MESSAGE,
        target_id=world.battle.answer_a_id,
        subject=None,
        reason="Advertising.",
        before={"status": "visible"},
        after={"status": "hidden"},
    )


def _unchanged(entry):
    fresh = AuditEntry.objects.values("reason", "action", "before", "after").get(pk=entry.pk)
    assert fresh == {
        "reason": "Advertising.",
        "action": "hide",
        "before": {"status": "visible"},
        "after": {"status": "hidden"},
    }


def test_model_save_refuses_changes(entry):
    entry.reason = "Nothing happened."
    with pytest.raises(AppendOnly):
        entry.save()
    _unchanged(entry)


def test_model_delete_refuses(entry):
    with pytest.raises(AppendOnly):
        entry.delete()
    _unchanged(entry)


def test_querysets_refuse_update_and_delete(entry):
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="Nothing happened.")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    entry.reason = "x"
    with pytest.raises(AppendOnly), transaction.atomic():
        AuditEntry.objects.bulk_update([entry], ["reason"])
    _unchanged(entry)


def test_the_admin_only_reads(client, entry):
    admin = admin_user(is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.get(reverse("admin:feedback_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:feedback_auditentry_add")).status_code == 403
    change = reverse("admin:feedback_auditentry_change", args=[entry.pk])
    assert client.get(change).status_code == 200  # a read-only view
    assert client.post(change, {"reason": "Nothing happened."}).status_code == 403
    delete = reverse("admin:feedback_auditentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    response = client.post(
        reverse("admin:feedback_auditentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    _unchanged(entry)


def test_no_page_of_the_platform_changes_it(client, entry):
    """The console's audit page only reads: it answers GET and nothing else."""
    client.force_login(admin_user())
    url = reverse("feedback:moderation_audit")
    assert client.get(url).status_code == 200
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(url).status_code == 405
    _unchanged(entry)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_postgresql_rejects_raw_update_and_delete(entry):
    table = AuditEntry._meta.db_table
    for statement in (f"UPDATE {table} SET reason = 'Nothing happened.'", f"DELETE FROM {table}"):  # noqa: S608
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    _unchanged(entry)
