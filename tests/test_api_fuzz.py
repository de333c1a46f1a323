"""A schema-driven fuzz run: schemathesis reads /api/schema/ from the platform served for real
(uvicorn, the whole ASGI application, the test database), generates valid and invalid requests
for every operation, sends them with a researcher's API token, and checks that no response is a
server error and that every documented response matches its schema.

Bounded: a few examples per operation and mode, derandomised so every run sends the same
requests; it takes a few seconds. Any finding fails the test with schemathesis's report (the
check that failed and a curl command that reproduces it).
"""

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_MODE = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


@pytest.fixture
def seeded(settings, tmp_path) -> dict:
    """A pool with every kind of record, a published release, leaderboard snapshots, a researcher's
    token (no throttling), and the real ids the explicit requests use."""
    from community.tests.factories import UserFactory
    from evaluation.tests.factories import snapshot_make
    from feedback.models import Release
    from feedback.releases.services import release_build, release_publish
    from feedback.researchapi.services import api_token_create
    from feedback.tests.test_releases import pool_with_everything

    settings.RELEASES_DIR = tmp_path / "releases"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fuzz"}}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": None, "anonymous": None},
    }
    battle = pool_with_everything()
    release = Release.objects.create(community=battle.community, version=1)
    release_build(release_id=release.pk)
    release_publish(actor=None, release_id=release.pk)
    snapshot = snapshot_make(community=battle.community, style={"length": 0.2, "bold": None})
    snapshot_make()
    _, key = api_token_create(user=UserFactory(role="researcher"), name="fuzz")
    return {
        "headers": {"Authorization": f"Bearer {key}"},
        "path_parameters": {
            "release_id": release.pk,
            "file_name": "battles.jsonl",
            "record_id": f"battle-{battle.pk}",
            "snapshot_id": snapshot.pk,
        },
        "query": {"GET /api/v1/releases/{release_id}/proof/{record_id}": {"file": "battles"}},
    }


def findings_add(findings: dict, case, mode: str, found: BaseException) -> None:
    """One entry per distinct finding (the operation, the failed check, the status it saw), with
    the curl command of the last request that showed it (after shrinking: the simplest one)."""
    label = case.operation.label
    for failure in found.exceptions if isinstance(found, FailureGroup) else [found]:
        status = getattr(failure, "status_code", None)
        findings[(label, failure.title, status)] = (
            f"{label} ({mode}) {failure.code} {failure.title}: {failure.message}\n"
            f"    {case.as_curl_command(headers={'Authorization': 'Bearer [token]'})}"
        )


def fuzz(
    operation, mode: GenerationMode, *, headers: dict[str, str], calls: Counter, statuses: Counter, findings: dict
) -> None:
    """Up to EXAMPLES_PER_MODE generated requests to one operation; raises schemathesis's report on a finding."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        calls[mode.value] += 1
        try:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
        except (Failure, FailureGroup) as found:
            findings_add(findings, case, mode.value, found)
            raise  # hypothesis shrinks it to the simplest request
        statuses[response.status_code] += 1

    run()


def test_no_request_gets_a_server_error_or_a_response_outside_the_schema(platform_url, seeded):
    headers = seeded["headers"]
    schema = schemathesis.openapi.from_url(f"{platform_url}/api/schema/")
    # The platform refuses a NUL character anywhere in a request (400, community/middleware.py;
    # docs/api.md): valid requests are made without one, invalid ones may still hold one.
    schema.config.generation.update(allow_x00=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    findings: dict[tuple[str, str, int | None], str] = {}
    calls: Counter = Counter()
    statuses: Counter = Counter()
    skipped = 0

    # The reads once with real ids and nothing generated: real records must match the schema.
    for operation in operations:
        names = {parameter.name for parameter in operation.path_parameters}
        if operation.method.upper() != "GET" or not names <= set(seeded["path_parameters"]):
            continue
        case = operation.Case(
            path_parameters={name: seeded["path_parameters"][name] for name in names},
            query=seeded["query"].get(operation.label),
        )
        calls["explicit"] += 1
        try:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            statuses[response.status_code] += 1
        except (Failure, FailureGroup) as found:  # collected, reported below
            findings_add(findings, case, "explicit", found)

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, headers=headers, calls=calls, statuses=statuses, findings=findings)
            except Unsatisfiable:
                # An operation without parameters or body has no invalid request to make.
                assert mode == GenerationMode.NEGATIVE
                skipped += 1
            except (Failure, FailureGroup):
                pass  # collected by fuzz(), reported below

    print(  # the run's numbers, shown with -s
        f"schemathesis: {len(operations)} operations, {sum(calls.values())} requests "
        f"({', '.join(f'{kind} {count}' for kind, count in sorted(calls.items()))}; "
        f"statuses {dict(sorted(statuses.items()))}), {skipped} operations with nothing to negate, "
        f"{len(findings)} findings"
    )
    assert not findings, "\n\n".join(findings.values())
