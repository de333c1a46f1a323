"""PostgreSQL connections under ASGI: a burst of concurrent requests never holds more
connections than the pool allows (persistent connections were per thread and ran PostgreSQL
out of connections), and every request is answered."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.db import connection

from community.tests.factories import CommunityFactory

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="the connection pool is PostgreSQL's (SQLite has no server connections)",
)

CLIENTS = 24
ROUNDS = 4
# The test's own connection comes from the same pool; one more for a connection the pool is
# closing while a new one opens.
SLACK = 1


def connections_open() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_the_web_tier_uses_a_bounded_pool_and_no_persistent_connections():
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"] == {
        "min_size": settings.DATABASE_POOL_MIN_SIZE,
        "max_size": settings.DATABASE_POOL_MAX_SIZE,
        "timeout": settings.DATABASE_POOL_TIMEOUT,
    }


def test_a_concurrent_burst_stays_within_the_pool_and_gets_no_5xx(platform_url):
    community = CommunityFactory()
    bound = settings.DATABASE_POOL_MAX_SIZE + SLACK
    url = f"{platform_url}/c/{community.slug}/"

    def fetch(_: int) -> int:
        with httpx.Client(timeout=60) as client:
            return client.get(url).status_code

    statuses: list[int] = []
    highest = connections_open()
    with ThreadPoolExecutor(CLIENTS) as clients:
        for _ in range(ROUNDS):
            burst = [clients.submit(fetch, number) for number in range(CLIENTS)]
            while not all(future.done() for future in burst):
                highest = max(highest, connections_open())
            statuses += [future.result() for future in burst]
    highest = max(highest, connections_open())

    assert statuses == [200] * (CLIENTS * ROUNDS)
    assert highest <= bound, f"{highest} connections open during the burst; the pool allows {bound}"
    assert connections_open() <= bound
