"""Building a release of 1M battles on PostgreSQL, against PostgreSQL's own COPY of the same rows.

In one run, on one database (created if missing, migrated, filled with `manage.py demo_data`
if it holds fewer battles than asked):

- baseline: `COPY (SELECT ...) TO STDOUT` of the rows a release reads for its battles (each
  voted battle of the community with its models' names, its community and licence, and the
  texts of its two answers and of the prompts they answer), read to the end with psycopg's
  `cursor.copy()`: once to warm the cache, then timed;
- release: `manage.py release_build --community demo` in a child process with DEBUG off (as a
  Celery worker runs it), timed from start to exit, its peak resident memory taken from the
  kernel (`wait4`'s ru_maxrss) or, if higher, sampled with its child process (the Merkle tree
  is hashed by one) summed in, and each stage's time and peak memory sampled from the
  release's `stage` column and /proc while it runs. The release's files go to a temporary
  RELEASES_DIR (unless one is set) and are deleted afterwards unless --keep.

A release writes five kinds (battles, preferences, unpaired, message trees, claims), so COPY
of the battle rows alone is not "the same rows": the COPY of every row the release reads is.
Both ratios are printed. (The battles are written in one pass with the message trees, from the
same messages, so they have no stage of their own to compare.)
Goals: peak memory under 300 MB, total time at most 5x the COPY.

Usage: .venv/bin/python bench/release_build.py [--battles 1000000]
           [--database-url postgres://postgres@127.0.0.1:5432/bench_releases] [--keep] [--profile FILE]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_releases"
COMMUNITY = "demo"

# The rows `feedback.releases.pool.battles` reads, in one statement: the same filter
# (voted battles of the community's accepted conversations), the same columns.
BATTLE_ROWS = """
    SELECT b.id, c.slug, c.licence_name, ma.name, mb.name, b.winner, b.judge_id, b.turn, b.is_blind,
           b.language, b.voted_at, pa.text, a.text, pb.text, bm.text
    FROM feedback_battle b
    JOIN community_community c ON c.id = b.community_id
    JOIN feedback_conversation cv ON cv.id = b.conversation_id
    JOIN inference_modelendpoint ma ON ma.id = b.model_a_id
    JOIN inference_modelendpoint mb ON mb.id = b.model_b_id
    JOIN feedback_message a ON a.id = b.answer_a_id
    JOIN feedback_message bm ON bm.id = b.answer_b_id
    LEFT JOIN feedback_message pa ON pa.id = a.parent_id
    LEFT JOIN feedback_message pb ON pb.id = bm.parent_id
    WHERE b.status = 'voted' AND c.slug = {community}
      AND cv.owner_id NOT IN (SELECT user_pk FROM community_erasurerequest)
    ORDER BY b.id
"""


# The other rows a release reads, each as one statement: every message of the community's
# accepted conversations (the message trees) and the reviews it joins to them. With the battle
# rows above, COPY of these is "COPY of the same rows" as the whole release reads.
ACCEPTED = """
    SELECT cv.id FROM feedback_conversation cv JOIN community_community c ON c.id = cv.community_id
    WHERE c.slug = {community} AND cv.owner_id NOT IN (SELECT user_pk FROM community_erasurerequest)
      AND (EXISTS (SELECT 1 FROM feedback_battle b WHERE b.conversation_id = cv.id AND b.status = 'voted')
           OR EXISTS (SELECT 1 FROM feedback_donation d WHERE d.conversation_id = cv.id AND d.status = 'donated'))
"""
OTHER_ROWS = {
    "messages": """
        SELECT m.id, m.parent_id, m.conversation_id, m.role, m.text, m.text_redacted, m.redacted_from, m.author_id,
               e.name, m.external_model, m.created_at
        FROM feedback_message m LEFT JOIN inference_modelendpoint e ON e.id = m.endpoint_id
        WHERE m.conversation_id IN ({accepted}) ORDER BY m.id
    """,
    "ratings": """
        SELECT r.answer_id, s.name, r.value FROM feedback_rating r
        JOIN feedback_ratingscale s ON s.id = r.scale_id JOIN feedback_message m ON m.id = r.answer_id
        WHERE m.conversation_id IN ({accepted})
    """,
    "flags": """
        SELECT f.answer_id, f.labels FROM feedback_flagresponse f JOIN feedback_message m ON m.id = f.answer_id
        WHERE m.conversation_id IN ({accepted})
    """,
    "claims": """
        SELECT cl.id, cl.answer_id, cl.text, l.verdict, l.volunteer_id FROM feedback_claim cl
        LEFT JOIN feedback_claimlabel l ON l.claim_id = cl.id JOIN feedback_message m ON m.id = cl.answer_id
        WHERE m.conversation_id IN ({accepted})
    """,
}


def database_ensure(url: str) -> None:
    """Create the database if the server lacks it (the local server trusts its users)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as server:
        if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created the database {name}")


def voted_battles(url: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute(
            "SELECT count(*) FROM feedback_battle b JOIN community_community c ON c.id = b.community_id "
            "WHERE c.slug = %s AND b.status = 'voted'",
            [COMMUNITY],
        ).fetchone()[0]


def database_prepare(url: str) -> None:
    """Fresh planner statistics (the local server runs without autovacuum, and a bulk load
    leaves them stale: both the COPY and the build would be planned on wrong row counts), and
    no build left 'building' by an interrupted run (the command refuses to start beside one)."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("ANALYZE")
        stale = db.execute(
            "UPDATE feedback_release SET status = 'failed', error = 'interrupted benchmark run', finished_at = now() "
            "WHERE status IN ('queued', 'building')"
        ).rowcount
        if stale:
            print(f"marked {stale} release build(s) left over by an interrupted run as failed")


def copy_battles(url: str) -> tuple[float, int, int]:
    """(seconds, rows, bytes) of PostgreSQL's COPY of the battles' rows, read to the end."""
    return copy_rows(url, sql.SQL(BATTLE_ROWS).format(community=sql.Literal(COMMUNITY)))


def copy_other_rows(url: str) -> tuple[float, int, int]:
    """(seconds, rows, bytes) of COPY of the other rows a release reads (OTHER_ROWS), one after another."""
    accepted = sql.SQL(ACCEPTED).format(community=sql.Literal(COMMUNITY))
    total = [0.0, 0, 0]
    for query in OTHER_ROWS.values():
        for index, value in enumerate(copy_rows(url, sql.SQL(query).format(accepted=accepted))):
            total[index] += value
    return total[0], total[1], total[2]


def copy_rows(url: str, select: sql.Composable) -> tuple[float, int, int]:
    """(seconds, rows, bytes) of PostgreSQL's COPY of a SELECT's rows, read to the end."""
    with psycopg.connect(url) as db, db.cursor() as cursor:
        query = sql.SQL("COPY ({}) TO STDOUT").format(select)
        started = time.perf_counter()
        rows = size = 0
        with cursor.copy(query) as copy:
            for block in copy:
                rows += bytes(block).count(b"\n")  # text format: a raw newline ends a row
                size += len(block)
        return time.perf_counter() - started, rows, size


class StageWatch(threading.Thread):
    """Samples, every 0.1 s, the newest release's `stage` (the build's progress reports) and
    the build process's resident memory, for the time and the peak memory of each stage."""

    def __init__(self, url: str, after_id: int) -> None:
        super().__init__(daemon=True)
        self.url, self.after_id = url, after_id
        self.pid: int | None = None
        self.stages: list[tuple[float, str]] = [(time.perf_counter(), "(start-up: imports, locking the release)")]
        self.peak_kib: dict[str, tuple[int, int]] = {}  # stage: (resident, of which anonymous)
        self.done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as db:
            while not self.done.is_set():
                row = db.execute(
                    "SELECT stage FROM feedback_release WHERE id > %s ORDER BY id DESC LIMIT 1", [self.after_id]
                ).fetchone()
                if row and row[0] and self.stages[-1][1] != row[0]:
                    self.stages.append((time.perf_counter(), row[0]))
                stage = self.stages[-1][1]
                resident, anonymous = resident_kib(self.pid)
                before = self.peak_kib.get(stage, (0, 0))
                self.peak_kib[stage] = (max(before[0], resident), max(before[1], anonymous))
                self.done.wait(0.1)


def resident_kib(pid: int | None) -> tuple[int, int]:
    """(VmRSS, RssAnon) of the process and its child processes now (the build's Merkle tree
    process), summed, in KiB; (0, 0) once it is gone. The difference is file-backed pages
    mapped in (memory-mapped Arrow files), which the kernel can drop."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, TypeError):
        return 0, 0
    fields = {
        line.split(":")[0]: int(line.split()[1])
        for line in status.splitlines()
        if line.startswith(("VmRSS", "RssAnon"))
    }
    resident, anonymous = fields.get("VmRSS", 0), fields.get("RssAnon", 0)
    for child in children:
        child_resident, child_anonymous = resident_kib(int(child))
        resident, anonymous = resident + child_resident, anonymous + child_anonymous
    return resident, anonymous


def last_release_id(url: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute("SELECT coalesce(max(id), 0) FROM feedback_release").fetchone()[0]


def build_release(env: dict, url: str, profile: str | None) -> dict:
    """Run the build in a child process: wall time, peak RSS, stage times, its folder."""
    watch = StageWatch(url, last_release_id(url))
    command = [
        sys.executable,
        *(["-m", "cProfile", "-o", str(Path(profile).resolve())] if profile else []),
        "manage.py",
    ]
    command += ["release_build", "--community", COMMUNITY]
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=errors)
        watch.pid = child.pid
        watch.stages[0] = (started, watch.stages[0][1])
        watch.start()
        # wait4 gives this child's own peak resident set size (KiB on Linux), not the largest
        # of all children as RUSAGE_CHILDREN would (demo_data and migrate ran before it).
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        watch.done.set()
        watch.join()
        output.seek(0)
        errors.seek(0)
        printed, log = output.read().decode(), errors.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"the release build failed:\n{log[-4000:]}")
    return {
        "seconds": seconds,
        # The kernel's peak is the process's own (or its largest child's), not their sum.
        "peak_mb": max(usage.ru_maxrss, *(kib for kib, _ in watch.peak_kib.values())) / 1024,
        "folder": Path(printed.strip().splitlines()[-1]),
        "stages": [(moment - started, stage) for moment, stage in watch.stages],
        "stage_peak_mb": {stage: (kib / 1024, anon / 1024) for stage, (kib, anon) in watch.peak_kib.items()},
    }


def stage_table(stages: list[tuple[float, str]], total: float) -> list[tuple[str, float]]:
    """(stage, seconds) for each stage seen, from its start to the next one's."""
    ends = [moment for moment, _ in stages[1:]] + [total]
    return [(stage, end - moment) for (moment, stage), end in zip(stages, ends, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true", help="keep the release's files (deleted by default)")
    parser.add_argument("--profile", help="run the build under cProfile, writing its stats to this file")
    args = parser.parse_args()

    url = args.database_url
    is_own_folder = not os.environ.get("RELEASES_DIR")
    releases = Path(os.environ.get("RELEASES_DIR") or tempfile.mkdtemp(prefix="bench-releases-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "RELEASES_DIR": str(releases),
        "LOG_LEVEL": "WARNING",
        # As a Celery worker builds it in production: DEBUG off (no query log), so a key is needed.
        "DJANGO_DEBUG": "False",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "bench-only-key-pseudonyms-here-mean-nothing",
    }
    database_ensure(url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    present = voted_battles(url)
    if present < args.battles:
        print(f"the database holds {present:,} voted battles in '{COMMUNITY}': adding {args.battles - present:,}")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "demo_data", "--battles", str(args.battles - present), "--seed", "1"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        print(f"demo_data: {time.perf_counter() - started:.0f} s")

    database_prepare(url)
    copy_battles(url)  # warm the cache, as the build will find it
    copy_other_rows(url)
    copy_seconds, rows, size = copy_battles(url)
    other_seconds, other_rows, other_size = copy_other_rows(url)
    all_seconds = copy_seconds + other_seconds
    build = build_release(env, url, args.profile)
    manifest = json.loads((build["folder"] / "manifest.json").read_text())
    counts = manifest["counts"]["by_kind"]
    stages = stage_table(build["stages"], build["seconds"])
    folder_bytes = sum(path.stat().st_size for path in build["folder"].rglob("*") if path.is_file())

    print(f"\nrelease of '{COMMUNITY}': {counts['battles']:,} battles (COPY read {rows:,} rows, {size / 1e6:,.0f} MB)")
    print(f"records by kind: {', '.join(f'{kind} {count:,}' for kind, count in counts.items())}")
    print(f"{'':38}{'seconds':>10}{'battles/s':>12}{'x COPY':>9}")
    print(f"{'PostgreSQL COPY of the battle rows':38}{copy_seconds:10.1f}{rows / copy_seconds:12,.0f}{1:9.2f}")
    print(
        f"{'COPY of every row the release reads':38}{all_seconds:10.1f}{rows / all_seconds:12,.0f}"
        f"{all_seconds / copy_seconds:9.2f}   ({rows + other_rows:,} rows, {(size + other_size) / 1e6:,.0f} MB)"
    )
    print(
        f"{'release: all five kinds (whole run)':38}{build['seconds']:10.1f}"
        f"{counts['battles'] / build['seconds']:12,.0f}{build['seconds'] / copy_seconds:9.2f}"
    )
    print(f"peak memory of the build, its child process included: {build['peak_mb']:,.0f} MB (goal: under 300 MB)")
    print(f"ratio build / COPY of every row it reads: {build['seconds'] / all_seconds:.1f} (goal: at most 5)")
    print(f"ratio build / COPY of the battle rows alone: {build['seconds'] / copy_seconds:.1f}")
    print(f"release files: {folder_bytes / 1e6:,.0f} MB")
    print(f"{'stages':42}{'seconds':>8}{'peak MB':>9}{'anon MB':>9}  (memory sampled every 0.1 s)")
    for stage, seconds in stages:
        resident, anonymous = build["stage_peak_mb"].get(stage, (0, 0))
        print(f"  {stage:40}{seconds:8.1f}{resident:9,.0f}{anonymous:9,.0f}")
    print("(peak MB: resident set, as ru_maxrss counts it; anon MB: its anonymous part, the rest being")
    print(" file-backed pages such as memory-mapped Arrow files, which the kernel can reclaim)")
    if args.keep:
        print(f"release kept in {build['folder']}")
    else:
        shutil.rmtree(releases if is_own_folder else build["folder"], ignore_errors=True)


if __name__ == "__main__":
    main()
