"""Votes under load against a bare DRF create endpoint, in the same run, on the same server.

Seeds a throw-away database (the one DATABASE_URL names, else a temporary SQLite file) with
ready battles for one judge, then starts the platform with uvicorn, plus the bench-only
baseline app (bench/vote_baseline/: DRF's CreateAPIView and a ModelSerializer on a model the
size of a vote, the same authentication, permission and throttle). For each repeat and each
concurrency it sends the same load to both, back to back (the order alternates between
repeats): `--requests` POSTs from `concurrency` httpx clients, each with an API token, each
request a new vote (its own battle, its own idempotency key). Rate limits and the throttle stay
on, with budgets too large to refuse anything, so every check still runs.

Prints, per concurrency, the medians over the repeats of throughput (requests/s), p50 and p99
latency, the throughput ratio platform/baseline, and the acknowledged (200/201) against stored
votes, counted in the database afterwards; and the range of the machine's load average (one
minute) read before and after each run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vote_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/vote_load.py [--repeats 3] [--requests 600] [--workers 1 | --processes 2]

`--workers N` runs `uvicorn --workers N` (one socket shared by N processes); `--processes N`
runs N single-process uvicorns on N ports, which the clients take in turn (as a proxy would).
"""

import argparse
import asyncio
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SETTINGS = "bench.vote_baseline.settings"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_fresh(env: dict) -> None:
    """An empty database: the PostgreSQL one named by DATABASE_URL is dropped and made again."""
    url = env.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def seed(env: dict, battles: int) -> tuple[str, list[int]]:
    """Migrate, then a community, a judge who accepted its licence, two endpoints and `battles`
    ready battles; returns (the judge's API token, the battle ids)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.utils import timezone

    from community.models import Community, Membership, User
    from feedback.models import Battle, Conversation, Message
    from feedback.researchapi.services import api_token_create
    from inference.models import ModelEndpoint

    community = Community.objects.create(slug="bench", name="Bench", language="en")
    judge = User.objects.create_user(email="judge@example.org", password=None)  # votes with an API token
    Membership.objects.create(
        user=judge,
        community=community,
        licence_accepted_at=timezone.now(),
        licence_version=community.licence_version,
        licence_name=community.licence_name,
    )
    models = [
        ModelEndpoint.objects.create(
            name=f"Model {side}", base_url="http://127.0.0.1:9/v1", model_id=f"m-{side}", community=community
        )
        for side in "ab"
    ]
    conversations = Conversation.objects.bulk_create(
        [Conversation(community=community, owner=judge) for _ in range(battles)]
    )
    prompts = Message.objects.bulk_create(
        [Message(conversation=c, role="user", text="Tell me about tides.", author=judge) for c in conversations]
    )
    answers = Message.objects.bulk_create(
        [
            Message(conversation=p.conversation, parent=p, role="assistant", text=f"Answer {side}", endpoint=model)
            for p in prompts
            for side, model in zip("ab", models, strict=True)
        ]
    )
    created = Battle.objects.bulk_create(
        [
            Battle(
                community=community,
                conversation=c,
                judge=judge,
                model_a=models[0],
                model_b=models[1],
                answer_a=answers[2 * i],
                answer_b=answers[2 * i + 1],
                status=Battle.Status.READY,
                language="en",
                completed_at=timezone.now(),
            )
            for i, c in enumerate(conversations)
        ]
    )
    _, key = api_token_create(user=judge, name="bench")
    return key, [battle.pk for battle in created]


def servers_start(env: dict, workers: int, processes: int) -> tuple[list[subprocess.Popen], list[str]]:
    started, urls = [], []
    for _ in range(processes):
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port)]
        command += ["--log-level", "warning", "--no-access-log"]
        if workers > 1:
            command += ["--workers", str(workers)]
        started.append(subprocess.Popen(command, cwd=ROOT, env=env))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/api/v1/communities/", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not come up") from None
                time.sleep(0.3)
    return started, urls


async def load(urls: list[str], key: str, kind: str, battles: list[int], concurrency: int) -> dict:
    """One run: every battle id once, from `concurrency` clients; statuses and latencies."""
    pending = list(reversed(battles))
    latencies: list[float] = []
    acknowledged: list[int] = []
    statuses: dict[int, int] = {}
    # As the TLS proxy in front of production sends them (DEBUG off redirects plain HTTP).
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-Proto": "https"}

    async def client(number: int) -> None:
        base = urls[number % len(urls)]
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            while pending:
                battle = pending.pop()
                body = {"winner": "model_a", "idempotency_key": str(uuid.uuid4())}
                if kind == "platform":
                    path = f"/api/v1/battles/{battle}/vote/"
                else:
                    path, body = "/bench/baseline-votes/", {**body, "battle_id": battle}
                started = time.perf_counter()
                response = await http.post(path, json=body)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code in (200, 201):
                    acknowledged.append(battle)

    started = time.perf_counter()
    await asyncio.gather(*(client(number) for number in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "throughput": len(battles) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "acknowledged": acknowledged,
        "statuses": statuses,
    }


def stored(kind: str, battles: list[int]) -> int:
    from bench.vote_baseline.models import BaselineVote
    from feedback.models import Battle

    if kind == "platform":
        return Battle.objects.filter(pk__in=battles, status=Battle.Status.VOTED).count()
    return BaselineVote.objects.filter(battle_id__in=battles).count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=600, help="requests per run (concurrency 32)")
    parser.add_argument("--requests-single", type=int, default=200, help="requests per run (concurrency 1)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn --workers N")
    parser.add_argument("--processes", type=int, default=1, help="N single-process uvicorns, taken in turn")
    arguments = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)

    folder = Path(tempfile.mkdtemp(prefix="vote-load-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATA_DIR": str(folder),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Every check runs; no budget is small enough to refuse a request of the bench.
        "RATE_LIMIT_VOTES": "100000000/minute",
        "RATE_LIMIT_VOTES_PER_ADDRESS": "100000000/minute",
        "API_THROTTLE_RATE": "100000000/hour",
        "RATE_LIMIT_KEY_PREFIX": "bench-" + uuid.uuid4().hex,
    }
    database_fresh(env)
    plan = {1: arguments.requests_single, 32: arguments.requests}
    needed = arguments.repeats * sum(plan.values()) + 32
    key, battles = seed(env, needed)
    servers, urls = servers_start(env, arguments.workers, arguments.processes)
    database = "PostgreSQL" if env.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    cache = "Redis" if env.get("REDIS_URL") else "local memory"
    layout = f"uvicorn --workers {arguments.workers}" if arguments.processes == 1 else f"{arguments.processes} uvicorns"
    print(f"vote_load: {database}, {cache}, {layout}, {arguments.repeats} repeats, requests per run {plan}")
    loads = [os.getloadavg()[0]]
    results: dict[tuple[int, str], list[dict]] = {}
    try:
        asyncio.run(load(urls, key, "platform", battles[:32], 32))  # warm: connections, the Redis script
        asyncio.run(load(urls, key, "baseline", list(range(10**9, 10**9 + 32)), 32))
        cursor, baseline = 32, 1
        for repeat in range(arguments.repeats):
            for concurrency, requests in plan.items():
                order = ("baseline", "platform") if repeat % 2 == 0 else ("platform", "baseline")
                for kind in order:
                    if kind == "platform":  # each vote on a battle of its own
                        ids, cursor = battles[cursor : cursor + requests], cursor + requests
                    else:  # the baseline's battle ids only tell its rows apart
                        ids, baseline = list(range(baseline, baseline + requests)), baseline + requests
                    run = asyncio.run(load(urls, key, kind, ids, concurrency))
                    run["stored"] = stored(kind, run["acknowledged"])
                    run["sent"] = len(ids)
                    results.setdefault((concurrency, kind), []).append(run)
                    loads.append(os.getloadavg()[0])
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)

    print(f"  load average (1 min) before and after each run: {min(loads):.1f} to {max(loads):.1f}")
    for concurrency in plan:
        line = {}
        for kind in ("baseline", "platform"):
            runs = results[(concurrency, kind)]
            line[kind] = {name: statistics.median(run[name] for run in runs) for name in ("throughput", "p50", "p99")}
            sent = sum(run["sent"] for run in runs)
            acknowledged = sum(len(run["acknowledged"]) for run in runs)
            kept = sum(run["stored"] for run in runs)
            statuses: dict[int, int] = {}
            for run in runs:
                for status, count in run["statuses"].items():
                    statuses[status] = statuses.get(status, 0) + count
            print(
                f"  c={concurrency:<2} {kind:8}: {line[kind]['throughput']:7.1f} req/s  "
                f"p50 {line[kind]['p50']:6.1f} ms  p99 {line[kind]['p99']:6.1f} ms  "
                f"sent {sent}, acknowledged {acknowledged}, stored {kept}, statuses {dict(sorted(statuses.items()))}"
            )
        ratio = line["platform"]["throughput"] / line["baseline"]["throughput"]
        print(f"  c={concurrency:<2} throughput ratio platform/baseline: {ratio:.2f}x")


if __name__ == "__main__":
    main()
