"""The whole leaderboard job on PostgreSQL: counting battles in the database, then every fit.

`bench/arena_ratings.py` times the engine on 1.5M battles held in arrays. This one times what
the scheduled job (`evaluation.leaderboards_refresh`) does on a real database filled by
`manage.py demo_data`: one GROUP BY over the battles (`counting.count_rows`, the only step that
reads them), then a Bradley-Terry fit with 100 bootstrap rounds for every leaderboard with
enough battles (all communities, the community, each topic and language), style control off.

For each database given it prints the battles counted, the counting time, the time of the fits
and of the whole job, and the peak memory of the process; run it on two databases of different
sizes to see that only the counting grows with the battles and the memory does not.

Usage: .venv/bin/python bench/leaderboard_job.py postgres://postgres@127.0.0.1:5432/bench_100k \\
           postgres://postgres@127.0.0.1:5432/bench_releases
(each database filled with `manage.py demo_data`; `bench/release_build.py` makes them)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, time
import django
django.setup()
from django.conf import settings
from evaluation.leaderboards import counting
from evaluation.leaderboards.snapshots import leaderboard_compute
from evaluation.leaderboards.services import fit_parameters

started = time.perf_counter()
rows = counting.count_rows()
counted = time.perf_counter()
scopes = counting.scope_counts(rows, min_category_battles=settings.LEADERBOARD_MIN_CATEGORY_BATTLES)
parameters = fit_parameters()
for counts in scopes.values():
    leaderboard_compute(counts, parameters=parameters)
finished = time.perf_counter()
print(json.dumps({
    "battles": sum(row.battles for row in rows),
    "rows": len(rows),
    "leaderboards": len(scopes),
    "models": max((len({r[0] for r in c} | {r[1] for r in c}) for c in scopes.values()), default=0),
    "count_seconds": counted - started,
    "fit_seconds": finished - counted,
    "total_seconds": finished - started,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rounds": parameters.rounds,
}))
"""


def measure(url: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "False",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "bench-only-key",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    output = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    urls = sys.argv[1:]
    if not urls:
        raise SystemExit(__doc__)
    print(f"{'database':<16}{'battles':>10}{'leaderboards':>14}{'count s':>9}{'fits s':>8}{'total s':>9}{'peak MB':>9}")
    for url in urls:
        result = measure(url)
        print(
            f"{url.rsplit('/', 1)[-1]:<16}{result['battles']:>10,}{result['leaderboards']:>14}"
            f"{result['count_seconds']:>9.2f}{result['fit_seconds']:>8.2f}{result['total_seconds']:>9.2f}"
            f"{result['peak_mb']:>9.0f}"
        )
    print(f"(each leaderboard: Bradley-Terry fit plus {result['rounds']} bootstrap rounds; style control off)")


if __name__ == "__main__":
    main()
