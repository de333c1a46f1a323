"""Accounts: failed log-ins limited by address and by (address, account), the reset link that
lets a locked-out owner in, and pages that say where mail goes when it is only printed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from community.account_adapter import TOO_MANY_FAILED_LOGINS
from community.models import User
from community.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
RESET = "/accounts/password/reset/"
PASSWORD = "a-long-test-password"  # the factory's
WRONG = "The email address and/or password you specified are not correct."
CONSOLE = "django.core.mail.backends.console.EmailBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
NOTICE = "In this setup e-mail is printed to the web server's log"

# Documentation addresses (RFC 5737), one set per test: the counts live in the cache for minutes.
X1, Y1 = "203.0.113.11", "198.51.100.11"
X2, Y2 = "203.0.113.12", "198.51.100.12"
X3, Z3 = "203.0.113.13", "192.0.2.13"


def log_in(client, email, password, address):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=address)


def logged_in_as(response, user) -> bool:
    return response.status_code == 302 and response.wsgi_request.user == user


def test_wrong_passwords_from_one_address_lock_that_address_and_account_only(client):
    ada, bo = UserFactory(email="ada-lock@example.org"), UserFactory(email="bo-lock@example.org")
    for _ in range(5):
        response = log_in(client, ada.email, "not-her-password", X1)
        assert response.status_code == 200
        assert WRONG in response.content.decode()
    # Address X and Ada: locked, the right password too.
    refused = log_in(client, ada.email, PASSWORD, X1)
    assert refused.status_code == 200
    assert TOO_MANY_FAILED_LOGINS in refused.content.decode()
    assert not refused.wsgi_request.user.is_authenticated
    # Another account from X, and Ada from another address, get in.
    assert logged_in_as(log_in(client, bo.email, PASSWORD, X1), bo)
    client.post("/accounts/logout/")
    assert logged_in_as(log_in(client, ada.email, PASSWORD, Y1), ada)


def test_failures_for_many_accounts_lock_the_address(client):
    people = UserFactory.create_batch(10)
    for person in people:
        assert WRONG in log_in(client, person.email, "guess", X2).content.decode()
    owner = UserFactory(email="owner-lock@example.org")
    refused = log_in(client, owner.email, PASSWORD, X2)
    assert TOO_MANY_FAILED_LOGINS in refused.content.decode()
    assert not refused.wsgi_request.user.is_authenticated
    assert logged_in_as(log_in(client, owner.email, PASSWORD, Y2), owner)


@pytest.mark.parametrize("has_email_address_row", [True, False])
def test_the_emailed_reset_link_lets_a_locked_out_owner_in(client, settings, has_email_address_row):
    """Locked out at X; the reset link opened elsewhere (a phone, at Z); back at X with the new password."""
    settings.EMAIL_BACKEND = LOCMEM
    suffix = "row" if has_email_address_row else "bare"
    ada = UserFactory(email=f"ada-reset-{suffix}@example.org")
    if has_email_address_row:  # signed up through the site; the demo admin has none
        EmailAddress.objects.create(user=ada, email=ada.email, primary=True, verified=True)
    address = X3 if has_email_address_row else "203.0.113.14"
    for _ in range(5):
        log_in(client, ada.email, "not-her-password", address)
    assert TOO_MANY_FAILED_LOGINS in log_in(client, ada.email, PASSWORD, address).content.decode()

    assert client.post(RESET, {"email": ada.email}, REMOTE_ADDR=Z3).status_code == 302
    [message] = mail.outbox
    link = re.search(r"https?://testserver(/accounts/password/reset/key/\S+/)", message.body).group(1)
    form_page = client.get(link, REMOTE_ADDR=Z3)
    assert form_page.status_code == 302  # to the same page without the key in its address
    new_password = "moon-and-tide-2027"
    done = client.post(form_page["Location"], {"password1": new_password, "password2": new_password}, REMOTE_ADDR=Z3)
    assert done.status_code == 302
    ada.refresh_from_db()
    assert ada.check_password(new_password)

    assert logged_in_as(log_in(client, ada.email, new_password, address), ada)


class TestMailPrintedToTheLog:
    def test_the_reset_sent_page_says_so_with_the_console_backend(self, client, settings):
        settings.EMAIL_BACKEND = CONSOLE
        UserFactory(email="cy-reset@example.org")
        page = client.post(RESET, {"email": "cy-reset@example.org"}, follow=True).content.decode()
        assert "we sent it an e-mail with a link to set a new password" in page
        assert NOTICE in page and "<code>var/log/web.log</code>" in page
        assert "<code>EMAIL_URL</code>" in page

    def test_the_reset_sent_page_is_plain_when_mail_is_sent(self, client, settings):
        settings.EMAIL_BACKEND = LOCMEM
        UserFactory(email="di-reset@example.org")
        page = client.post(RESET, {"email": "di-reset@example.org"}, follow=True).content.decode()
        assert "we sent it an e-mail with a link to set a new password" in page
        assert NOTICE not in page
        assert len(mail.outbox) == 1

    @pytest.mark.parametrize(("backend", "is_said"), [(CONSOLE, True), (LOCMEM, False)])
    def test_signing_up_with_mandatory_verification(self, client, settings, backend, is_said):
        settings.EMAIL_BACKEND = backend
        settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
        email = f"eve-signup-{is_said}@example.org".lower()
        response = client.post(
            "/accounts/signup/",
            {"email": email, "password1": "tide-and-moon-42", "password2": "tide-and-moon-42"},
            follow=True,
        )
        page = response.content.decode()
        assert "We sent you an e-mail to confirm your address." in page
        assert (NOTICE in page) == is_said
        assert User.objects.filter(email=email).exists()

    @pytest.mark.parametrize(("backend", "is_said"), [(CONSOLE, True), (LOCMEM, False)])
    def test_signing_up_with_optional_verification(self, client, settings, backend, is_said):
        settings.EMAIL_BACKEND = backend
        settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
        # One address per case: allauth sends one confirmation per address every three minutes.
        email = f"fay-signup-{is_said}@example.org".lower()
        response = client.post(
            "/accounts/signup/",
            {"email": email, "password1": "tide-and-moon-42", "password2": "tide-and-moon-42"},
            follow=True,
        )
        page = response.content.decode()
        assert f"Confirmation e-mail sent to {email}." in page
        said = "In this setup mail is not sent but printed to the web server&#x27;s log (var/log/web.log)."
        assert (said in page) == is_said


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "console|None|587||True|False"),
        ({"EMAIL_URL": "smtp+tls://jo:p%40ss@mail.example.org:587"}, "smtp|mail.example.org|587|jo|True|False"),
        (
            {"EMAIL_HOST": "mail.example.org", "EMAIL_USE_SSL": "true", "EMAIL_PORT": "465"},
            "smtp|mail.example.org|465||False|True",
        ),
    ],
)
def test_mail_settings_from_the_environment(tmp_path, environment, expected):
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup()\n"
        "from django.conf import settings as s\n"
        "print('|'.join(str(v) for v in (s.EMAIL_BACKEND.split('.')[-2], s.EMAIL_HOST or None, s.EMAIL_PORT,"
        " s.EMAIL_HOST_USER or '', s.EMAIL_USE_TLS, s.EMAIL_USE_SSL)))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "HOME": str(tmp_path), **environment}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == expected
