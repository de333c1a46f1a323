"""Researcher access: applying, the admins' console that decides, the audit log, the mail."""

import socket

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from community.errors import Conflict, NotAllowed, RequestRejected
from community.models import AccessAuditEntry, AppendOnly, ResearcherApplication, User
from community.services import (
    RESEARCHER_TERMS_VERSION,
    researcher_application_decide,
    researcher_application_submit,
)
from community.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["volunteer", "researcher", "moderator", "admin"]
PAGE = reverse("community:researcher_access")
REVIEW = reverse("community:researcher_access_review")
PAGE_URL = f"http://testserver{PAGE}"


def decide_url(application):
    return reverse("community:researcher_access_decide", args=[application.pk])


def apply(user, **fields):
    values = {
        "purpose": "Measure how often volunteers prefer the longer answer.",
        "affiliation": "University of Tides",
        "is_terms_accepted": True,
    }
    values.update(fields)
    return researcher_application_submit(user=user, **values)


def decide(actor, application, *, is_approved=True, reason="Clear purpose."):
    return researcher_application_decide(
        actor=actor,
        application_id=application.pk,
        is_approved=is_approved,
        reason=reason,
        applicant_page_url=PAGE_URL,
    )


def form(**fields):
    values = {"purpose": "Study ties between models.", "affiliation": "Tide Lab", "terms": "accept"}
    values.update(fields)
    return values


def login(client, role):
    if role == "anonymous":
        return None
    user = UserFactory(role=role)
    client.force_login(user)
    return user


class TestPermissions:
    @pytest.mark.parametrize("role", ["anonymous", *ROLES])
    def test_the_application_page(self, client, role):
        user = login(client, role)
        response = client.get(PAGE)
        if role == "anonymous":
            assert response.status_code == 302
            assert response["Location"] == f"/accounts/login/?next={PAGE}"
            return
        assert response.status_code == 200
        html = response.content.decode()
        if role == "volunteer":
            assert 'id="researcher-access-form"' in html
            assert f"Researcher data terms (version {RESEARCHER_TERMS_VERSION})" in html
        else:
            assert 'id="researcher-access-form"' not in html
            assert f"You have researcher access: your role ({user.get_role_display().lower()})" in html

    @pytest.mark.parametrize(
        ("role", "status"), [("anonymous", 302), ("volunteer", 302), *[(r, 409) for r in ROLES[1:]]]
    )
    def test_applying(self, client, role, status):
        login(client, role)
        response = client.post(PAGE, form())
        assert response.status_code == status
        if role == "volunteer":
            assert response["Location"] == PAGE
            application = ResearcherApplication.objects.get()
            assert (application.purpose, application.affiliation, application.status, application.terms_version) == (
                "Study ties between models.",
                "Tide Lab",
                "pending",
                RESEARCHER_TERMS_VERSION,
            )
        else:
            assert not ResearcherApplication.objects.exists()
        if status == 409:
            assert "You already read the live pool" in response.content.decode()

    @pytest.mark.parametrize(
        ("role", "status"),
        [("anonymous", 302), ("volunteer", 403), ("researcher", 403), ("moderator", 403), ("admin", 200)],
    )
    def test_the_console(self, client, role, status):
        applicant = UserFactory(email="ada@example.org")
        apply(applicant)
        login(client, role)
        response = client.get(REVIEW)
        assert response.status_code == status
        html = response.content.decode()
        if status == 403:
            assert "Only platform admins decide applications for researcher access." in html
            assert "ada@example.org" not in html
        if status == 200:
            assert "ada@example.org" in html and "University of Tides" in html

    @pytest.mark.parametrize(
        ("role", "status"),
        [("anonymous", 302), ("volunteer", 403), ("researcher", 403), ("moderator", 403), ("admin", 302)],
    )
    def test_deciding(self, client, role, status):
        applicant = UserFactory()
        application = apply(applicant)
        login(client, role)
        response = client.post(decide_url(application), {"decision": "approve", "reason": "Clear purpose."})
        assert response.status_code == status
        application.refresh_from_db()
        applicant.refresh_from_db()
        if role == "admin":
            assert response["Location"] == REVIEW
            assert (application.status, applicant.role) == ("approved", "researcher")
            assert AccessAuditEntry.objects.count() == 1
        else:
            assert (application.status, applicant.role) == ("pending", "volunteer")
            assert not AccessAuditEntry.objects.exists()

    def test_a_superuser_decides_whatever_their_role(self, client):
        application = apply(UserFactory())
        client.force_login(
            User.objects.create_superuser(email="root@example.org", password="x-long-password", role="volunteer")
        )
        assert client.get(REVIEW).status_code == 200
        assert client.post(decide_url(application), {"decision": "refuse", "reason": "Too vague."}).status_code == 302

    def test_the_links_to_the_page(self, client):
        client.force_login(UserFactory())
        link = f'href="{PAGE}"'
        assert link in client.get(reverse("researchapi:tokens")).content.decode()
        assert link in client.get(reverse("feedback:releases")).content.decode()
        menu = client.get("/").content.decode()
        assert link in menu and f'href="{REVIEW}"' not in menu
        client.force_login(UserFactory(role="admin"))
        assert f'href="{REVIEW}"' in client.get("/").content.decode()

    def test_the_pool_api_refusal_says_how_to_apply(self, client):
        client.force_login(UserFactory())
        response = client.get("/api/v1/pool/battles/")
        assert response.status_code == 403
        assert "apply for researcher access at /researcher-access/" in response.json()["detail"]


class TestApplying:
    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"purpose": "  "}, "Say what you want to do with the live pool."),
            ({"purpose": None}, "Say what you want to do with the live pool."),
            ({"affiliation": ""}, "Say where you work (a university, a lab, a company), or “independent”."),
            ({"is_terms_accepted": False}, "Agree to the researcher data terms to apply."),
            ({"is_terms_accepted": "on"}, "Agree to the researcher data terms to apply."),
            ({"purpose": "x" * 4001}, "The purpose is 4,001 characters long; the limit is 4,000."),
            ({"affiliation": "x" * 201}, "The affiliation is 201 characters long; the limit is 200."),
        ],
    )
    def test_bad_applications_write_nothing(self, fields, message):
        with pytest.raises(RequestRejected) as rejected:
            apply(UserFactory(), **fields)
        assert (rejected.value.status_code, rejected.value.message) == (400, message)
        assert not ResearcherApplication.objects.exists()

    def test_the_form_keeps_what_was_typed_and_says_what_is_missing(self, client):
        client.force_login(UserFactory())
        response = client.post(PAGE, {"purpose": "Study ties.", "affiliation": "Tide Lab"})
        assert response.status_code == 400
        html = response.content.decode()
        assert "Agree to the researcher data terms to apply." in html
        assert "Study ties.</textarea>" in html and 'value="Tide Lab"' in html
        assert not ResearcherApplication.objects.exists()

    def test_one_pending_application_then_again_after_a_refusal(self, client):
        admin = UserFactory(role="admin")
        user = UserFactory()
        first = apply(user)
        with pytest.raises(Conflict, match="Your application is waiting for an admin"):
            apply(user, purpose="Again")
        client.force_login(user)
        page = client.get(PAGE).content.decode()
        assert "is waiting for an admin" in page and 'id="researcher-access-form"' not in page
        assert client.post(PAGE, form()).status_code == 409
        decide(admin, first, is_approved=False, reason="Say which models you study.")
        page = client.get(PAGE).content.decode()
        assert 'id="researcher-access-form"' in page
        assert "Refused" in page and "Say which models you study." in page
        second = apply(user, purpose="Compare the two built-in models on ties.")
        assert list(ResearcherApplication.objects.filter(user=user).values_list("pk", "status")) == [
            (second.pk, "pending"),
            (first.pk, "refused"),
        ]
        decide(admin, second)
        with pytest.raises(Conflict, match="You already read the live pool: your role is researcher."):
            apply(user)

    def test_the_database_allows_one_pending_application(self):
        user = UserFactory()
        apply(user)
        with pytest.raises(IntegrityError), transaction.atomic():
            ResearcherApplication.objects.create(user=user, purpose="p", affiliation="a", terms_version=1)

    def test_an_inactive_person_cannot_apply(self):
        with pytest.raises(NotAllowed):
            apply(UserFactory(is_active=False))


class TestDeciding:
    def test_approval_grants_the_role_audits_and_mails(self, client, django_capture_on_commit_callbacks):
        admin = UserFactory(role="admin", email="root@example.org")
        applicant = UserFactory(email="ada@example.org")
        application = apply(applicant)
        client.force_login(applicant)
        assert client.get("/api/v1/pool/battles/").status_code == 403
        client.force_login(admin)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(decide_url(application), {"decision": "approve", "reason": "Clear purpose."})
        assert response.status_code == 302
        application.refresh_from_db()
        applicant.refresh_from_db()
        assert applicant.role == "researcher"
        assert (application.status, application.decided_by, application.decision_reason) == (
            "approved",
            admin,
            "Clear purpose.",
        )
        entry = AccessAuditEntry.objects.get()
        assert (
            entry.actor,
            entry.subject,
            entry.action,
            entry.application_id,
            entry.reason,
            entry.role_before,
            entry.role_after,
        ) == (admin, applicant, "researcher_approve", application.pk, "Clear purpose.", "volunteer", "researcher")
        [message] = mail.outbox
        assert message.to == ["ada@example.org"]
        assert message.subject == "Feedback Commons: your researcher access was approved"
        assert "was approved" in message.body
        assert "The admin's reason: Clear purpose." in message.body
        assert f"Your applications and their answers: {PAGE_URL}" in message.body
        console = client.get(REVIEW).content.decode()
        assert "No application is waiting." in console
        assert "Approved researcher access" in console and "volunteer → researcher" in console
        client.force_login(applicant)
        page = client.get(PAGE).content.decode()
        assert "You have researcher access: your role (researcher)" in page
        assert "Approved: you have researcher access" in page and "Clear purpose." in page
        assert client.get("/api/v1/pool/battles/").status_code == 200

    def test_refusal_keeps_the_role_audits_and_mails(self, django_capture_on_commit_callbacks):
        admin = UserFactory(role="admin")
        applicant = UserFactory(email="bo@example.org")
        application = apply(applicant)
        with django_capture_on_commit_callbacks(execute=True):
            decide(admin, application, is_approved=False, reason="Say which models you study.")
        applicant.refresh_from_db()
        assert applicant.role == "volunteer"
        entry = AccessAuditEntry.objects.get()
        assert (entry.action, entry.reason, entry.role_before, entry.role_after) == (
            "researcher_refuse",
            "Say which models you study.",
            "volunteer",
            "volunteer",
        )
        [message] = mail.outbox
        assert (message.to, message.subject) == (
            ["bo@example.org"],
            "Feedback Commons: your application for researcher access was refused",
        )
        assert "You can apply again" in message.body and "Say which models you study." in message.body

    @pytest.mark.parametrize(
        ("decision", "reason", "status", "message"),
        [
            ("approve", "", 400, "Give a reason: it is kept in the audit log and shown to the person concerned."),
            ("approve", "x" * 2001, 400, "The reason is 2,001 characters long; the limit is 2,000."),
            ("maybe", "Fine.", 400, "Choose to approve or to refuse the application."),
        ],
    )
    def test_bad_decisions_change_nothing(self, client, decision, reason, status, message):
        application = apply(UserFactory())
        client.force_login(UserFactory(role="admin"))
        response = client.post(decide_url(application), {"decision": decision, "reason": reason})
        assert response.status_code == status
        assert message in response.content.decode()
        application.refresh_from_db()
        assert (application.status, application.user.role) == ("pending", "volunteer")
        assert not AccessAuditEntry.objects.exists()
        assert mail.outbox == []

    def test_an_unknown_application_is_a_404(self, client):
        client.force_login(UserFactory(role="admin"))
        assert (
            client.post("/researcher-access/review/999/decide/", {"decision": "approve", "reason": "Ok"}).status_code
            == 404
        )
        huge = f"/researcher-access/review/{2**70}/decide/"
        assert client.post(huge, {"decision": "approve", "reason": "Ok"}).status_code == 404

    def test_a_decision_is_taken_once(self, django_capture_on_commit_callbacks):
        admin, other_admin = UserFactory(role="admin"), UserFactory(role="admin")
        application = apply(UserFactory())
        with django_capture_on_commit_callbacks(execute=True):
            decide(admin, application, is_approved=False, reason="Too vague.")
            with pytest.raises(Conflict, match="This application was already decided: refused."):
                decide(other_admin, application, is_approved=True, reason="Changed my mind.")
        application.refresh_from_db()
        assert (application.status, application.decided_by, application.user.role) == ("refused", admin, "volunteer")
        assert AccessAuditEntry.objects.count() == 1
        assert len(mail.outbox) == 1

    def test_approval_never_lowers_a_role(self):
        admin = UserFactory(role="admin")
        applicant = UserFactory()
        application = apply(applicant)
        User.objects.filter(pk=applicant.pk).update(role="moderator")
        decide(admin, application)
        applicant.refresh_from_db()
        assert applicant.role == "moderator"
        entry = AccessAuditEntry.objects.get()
        assert (entry.role_before, entry.role_after) == ("moderator", "moderator")

    def test_a_mail_that_cannot_be_sent_leaves_the_decision_standing(
        self, settings, django_capture_on_commit_callbacks
    ):
        # A real SMTP backend pointed at a port where nothing listens.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 5
        application = apply(UserFactory())
        with django_capture_on_commit_callbacks(execute=True):
            decide(UserFactory(role="admin"), application)
        application.refresh_from_db()
        assert (application.status, application.user.role) == ("approved", "researcher")
        assert AccessAuditEntry.objects.count() == 1

    def test_the_console_takes_the_same_queries_however_many_applications(self, client, django_assert_num_queries):
        admin = UserFactory(role="admin")
        client.force_login(admin)
        for _ in range(3):
            decide(admin, apply(UserFactory()), is_approved=False, reason="Too vague.")
            apply(UserFactory())
        # session, user, pending applications with their applicants, the latest decisions with both people
        with django_assert_num_queries(4):
            response = client.get(REVIEW)
        assert response.content.decode().count('id="researcher-application-') == 3


class TestAuditLog:
    def test_entries_cannot_be_changed_or_deleted(self):
        admin = UserFactory(role="admin")
        decide(admin, apply(UserFactory()))
        entry = AccessAuditEntry.objects.get()
        entry.reason = "Rewritten"
        with pytest.raises(AppendOnly):
            entry.save()
        with pytest.raises(AppendOnly):
            entry.delete()
        with pytest.raises(AppendOnly):
            AccessAuditEntry.objects.update(reason="Rewritten")
        with pytest.raises(AppendOnly):
            AccessAuditEntry.objects.all().delete()
        assert AccessAuditEntry.objects.get().reason == "Clear purpose."

    def test_erasure_removes_the_applications_and_keeps_the_log(self):
        from community.erasure import user_erase

        applicant = UserFactory()
        decide(UserFactory(role="admin"), apply(applicant), is_approved=False, reason="Too vague.")
        apply(applicant)
        user_erase(user=applicant, items_removed={})
        assert not ResearcherApplication.objects.exists()
        assert list(AccessAuditEntry.objects.values_list("subject_id", "reason")) == [(applicant.pk, "Too vague.")]
