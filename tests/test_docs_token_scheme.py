"""The API token scheme is said one way everywhere (issue 12 §7): every `Authorization` header
shown in the docs, the README and the pages uses the keyword the authentication class issues
(`Bearer`), the docs' curl example works as printed with a real token, and the OpenAPI schema
names the same scheme and no other header scheme."""

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from community.tests.factories import UserFactory
from feedback.researchapi.authentication import KEYWORD
from feedback.researchapi.services import api_token_create

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
# `Authorization: Bearer fc_...` in prose, curl and HTML; `"Authorization": "Bearer fc_..."` in Python.
HEADER = re.compile(r"""Authorization["']?:\s*["']?([A-Za-z]+)\b""")


def documents() -> list[Path]:
    """Every doc and every page template that can show a header to a reader."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for templates in ("templates", "community/templates", "feedback/templates", "evaluation/templates"):
        paths += sorted((ROOT / templates).rglob("*.html"))
    return paths


@pytest.fixture(autouse=True)
def throttle_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "docs"}}
    cache.clear()
    yield
    cache.clear()


def test_every_header_shown_uses_the_scheme_the_site_issues():
    shown = {}
    for path in documents():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for keyword in HEADER.findall(line):
                shown[f"{path.relative_to(ROOT)}:{number}"] = keyword
    assert KEYWORD == "Bearer"
    assert len(shown) >= 4  # docs/api.md (curl, Python), docs/arena.md, docs/tasks.md, the token page
    assert {where: keyword for where, keyword in shown.items() if keyword != KEYWORD} == {}
    assert {"docs/api.md", "docs/arena.md", "docs/tasks.md"} <= {where.split(":")[0] for where in shown}


def curl_examples() -> list[tuple[str, list[str]]]:
    """(where, argv) of every `curl` command in a docs code block that sends an Authorization header."""
    examples = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.lstrip().startswith("curl ") and "Authorization" in line:
                examples.append((f"{path.relative_to(ROOT)}:{number}", shlex.split(line)))
    return examples


def test_the_docs_curl_examples_work_as_printed():
    examples = curl_examples()
    assert [where for where, _ in examples] == ["docs/api.md:18"]
    user = UserFactory(role="researcher")
    _, key = api_token_create(user=user, name="docs")
    for where, argv in examples:
        header = argv[argv.index("-H") + 1]
        name, value = (part.strip() for part in header.split(":", 1))
        assert name == "Authorization" and value == f"{KEYWORD} fc_...", where
        url = next(arg for arg in argv[1:] if arg.startswith("https://"))
        response = Client().get(urlsplit(url).path, HTTP_AUTHORIZATION=value.replace("fc_...", key))
        assert response.status_code == 200, (where, response.content)
        # Without the token the same request is refused, so the 200 came from the header.
        assert Client().get(urlsplit(url).path).status_code in (401, 403)


def test_the_schema_names_the_same_scheme_and_no_other_header_scheme():
    user = UserFactory(role="researcher")
    _, key = api_token_create(user=user, name="schema")
    schema = Client().get("/api/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes == {
        "apiToken": {
            "type": "http",
            "scheme": KEYWORD.lower(),
            "description": "An API token made on /me/tokens/, sent as `Authorization: Bearer <token>`.",
        },
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
    }
    assert "`Authorization: Bearer <token>`" in schema["info"]["description"]
    # The scheme the schema names is the one the authentication class accepts and advertises.
    accepted = Client().get("/api/v1/pool/battles/", HTTP_AUTHORIZATION=f"{KEYWORD} {key}")
    assert accepted.status_code == 200
    refused = Client().get("/api/v1/pool/battles/", HTTP_AUTHORIZATION=f"{KEYWORD} fc_wrong")
    assert (refused.status_code, refused["WWW-Authenticate"]) == (401, f'{KEYWORD} realm="api"')
