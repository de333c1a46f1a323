"""Arena ratings: the engine against the per-battle logistic regression, in the same run.

1.5M synthetic battles over 150 models with known ratings (seeded; ties consistent with the
Bradley-Terry model, so the truth stays the ratings' expected value), then

- (a) aggregation of the battle arrays into counts (`BattleCounts.from_arrays`);
- (b) the engine's fit on the counts (`fit_ratings`);
- (c) the fit plus 100 bootstrap rounds (`leaderboard`);
- (d) the reference: scikit-learn's LogisticRegression on the expanded per-battle rows, as the
  public leaderboard code does it (one row per battle, +1 for model_a and -1 for model_b, no
  intercept; a tie is two rows of weight 1/2, one won and one lost), with no penalty and a tight
  tolerance; the design is sparse (CSR) here, which only makes the reference faster and smaller
  than the dense matrix of the public code;
- (e) the reference bootstrap for a few rounds (resample battles, rebuild rows, refit),
  extrapolated to 100 rounds and labelled as such.

Then the largest rating difference to the reference, recovery of the true ratings, peak memory
(ru_maxrss), and memory at 150k against 1.5M battles: each size runs in a child process that
generates its battles in chunks and keeps only the counts, as the command and the SQL snapshot
job do, so its peak is what the counting and the fit need.

Times are wall-clock medians over --repeat runs, with the process's CPU time beside them (on a
shared, loaded machine the wall time mostly measures the other users). OpenBLAS threads are left
as they are (set OPENBLAS_NUM_THREADS to try others); the engine solves its small systems one
LAPACK call each, which keeps them on the calling thread (see engine._solve).

The same check for the command: `manage.py arena_ratings --json` on battles.jsonl files of 30k
and 300k battles in the release's shape, each in a child process.

The whole process against the public code's, on one file (issue 12 §8): a battles.jsonl of
--battles battles in the release's shape is written once; then, each as a whole process started
from here (interpreter, imports and Django's setup included), `manage.py arena_ratings --battles
FILE --bootstrap 100 --json` and the public leaderboard code's method on the same file: read it
with pandas (`read_json(lines=True)`, as the public code reads its battles), keep the blind
battles and fit the per-battle logistic regression of (d) once, without a bootstrap (so the
reference does less work than the command). Goal: the command in at most a tenth of the
reference's wall time. Medians of --whole-repeat runs each, alternating.

Usage: .venv/bin/python bench/arena_ratings.py [--battles 1500000] [--models 150]
       [--rounds 100] [--reference-rounds 3] [--repeat 3] [--command-battles 300000]
       [--whole-repeat 3]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.leaderboards.engine import (  # noqa: E402
    LOG_ODDS_PER_POINT,
    OUTCOMES,
    BattleCounts,
    fit_ratings,
    leaderboard,
)

TIE_SHARE = 0.15


def truth_of(models: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 150.0, models)


def simulate(truth: np.ndarray, battles: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(model_a, model_b, winner code) arrays; a tie has probability TIE_SHARE * 2 * min(p, 1 - p)."""
    m = truth.size
    a = rng.integers(0, m, battles)
    b = (a + rng.integers(1, m, battles)) % m
    p = 1.0 / (1.0 + 10.0 ** ((truth[b] - truth[a]) / 400.0))
    tie = TIE_SHARE * 2 * np.minimum(p, 1 - p)
    u = rng.random(battles)
    winner = np.where(u < tie, np.where(rng.random(battles) < 0.5, 2, 3), np.where(u < tie + p - tie / 2, 0, 1))
    return a, b, winner


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def high_water_mib() -> float:
    """VmHWM: the peak resident memory of this process image alone (Linux; ru_maxrss of a process
    started by fork and exec also carries its parent's peak at the fork)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(function, repeat: int):
    """(result of the last call, median wall seconds, all wall seconds, median CPU seconds)."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return result, statistics.median(times), times, statistics.median(cpu)


def reference_design(a: np.ndarray, b: np.ndarray, winner: np.ndarray, models: int):
    """Sparse per-battle rows: +1 model_a, -1 model_b; a tie becomes two rows of weight 1/2."""
    tie = winner >= 2
    rows = np.concatenate([np.arange(a.size), np.flatnonzero(tie)])
    n = rows.size
    data = np.tile([1.0, -1.0], n)
    columns = np.column_stack([a[rows], b[rows]]).ravel()
    design = csr_matrix((data, columns, np.arange(0, 2 * n + 1, 2)), shape=(n, models))
    won = np.concatenate([winner == 0, np.zeros(tie.sum(), dtype=bool)]) | np.concatenate(
        [tie, np.zeros(tie.sum(), dtype=bool)]
    )
    weight = np.where(np.concatenate([tie, np.ones(tie.sum(), dtype=bool)]), 0.5, 1.0)
    return design, won.astype(int), weight


def reference_fit(design, won, weight) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression  # imported (untimed) by main; the children never do

    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=100_000)
    model.fit(design, won, sample_weight=weight)
    ratings = model.coef_[0] / LOG_ODDS_PER_POINT
    return ratings - ratings.mean() + 1000.0


def child(battles: int, models: int, rounds: int, seed: int) -> None:
    """Counting in chunks (what a stream or a SQL GROUP BY gives) plus the leaderboard; prints JSON."""
    truth = truth_of(models, seed)
    rng = np.random.default_rng(seed + 1)
    cells = np.zeros((models, models, len(OUTCOMES)), dtype=np.int64)
    chunk = 100_000
    start = time.perf_counter()
    for offset in range(0, battles, chunk):
        a, b, winner = simulate(truth, min(chunk, battles - offset), rng)
        np.add.at(cells, (a, b, winner), 1)
    names = [f"model-{i:03d}" for i in range(models)]
    nonzero = np.argwhere(cells)
    counts = BattleCounts.from_counts(
        (names[i], names[j], OUTCOMES[k], int(cells[i, j, k])) for i, j, k in nonzero.tolist()
    )
    counted = time.perf_counter()
    leaderboard(counts, rounds=rounds, seed=seed)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "battles": battles,
                "peak_mib": peak_mib(),
                "high_water_mib": high_water_mib(),
                "count_s": counted - start,
                "leaderboard_s": done - counted,
            }
        )
    )


def command_child(path: str) -> None:
    """Run `manage.py arena_ratings --json` in this process on a file; print its time and peak memory."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    start = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        call_command("arena_ratings", "--battles", path, "--json", stdout=sink, stderr=sink)
    print(json.dumps({"seconds": time.perf_counter() - start, "high_water_mib": high_water_mib()}))


def battles_file_write(path: Path, battles: int, models: int, seed: int) -> None:
    """A battles.jsonl of this many blind battles in the release's shape."""
    import orjson

    truth = truth_of(models, seed)
    a, b, winner = simulate(truth, battles, np.random.default_rng(seed + 3))
    conversation = [{"role": "user", "content": "Hello?"}, {"role": "assistant", "content": "Hello!"}]
    with path.open("wb") as handle:
        for i, (x, y, w) in enumerate(zip(a.tolist(), b.tolist(), winner.tolist(), strict=True)):
            record = {
                "id": f"battle-{i}",
                "model_a": f"model-{x:03d}",
                "model_b": f"model-{y:03d}",
                "winner": OUTCOMES[w],
                "judge": f"judge-{i % 977}",
                "conversation_a": conversation,
                "conversation_b": conversation,
                "turn": 1,
                "anony": True,
                "language": "en",
                "tstamp": 1767225600.0 + i,
                "community": "open-commons",
                "licence": "CC-BY-4.0",
            }
            handle.write(orjson.dumps(record) + b"\n")


def command_memory(battles: int, models: int, seed: int, folder: Path) -> dict:
    """Write a battles.jsonl of this many blind battles and rate it in a child."""
    path = folder / f"battles-{battles}.jsonl"
    battles_file_write(path, battles, models, seed)
    size = path.stat().st_size
    command = [sys.executable, __file__, "--command-child", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ.copy(), cwd=ROOT)
    path.unlink()
    return {"battles": battles, "bytes": size, **json.loads(result.stdout.strip().splitlines()[-1])}


def reference_child(path: str) -> None:
    """The public leaderboard code's method on a battles file: pandas reads it, one logistic fit."""
    import pandas as pd

    battles = pd.read_json(path, lines=True)
    battles = battles[battles["anony"]]
    codes, models = pd.factorize(pd.concat([battles["model_a"], battles["model_b"]]))
    a, b = codes[: len(battles)], codes[len(battles) :]
    winner = battles["winner"].map({outcome: code for code, outcome in enumerate(OUTCOMES)}).to_numpy()
    ratings = reference_fit(*reference_design(a, b, winner, len(models)))
    print(json.dumps({"models": len(models), "top": str(models[int(np.argmax(ratings))])}))


def whole_process(command: list[str]) -> dict:
    """Run a command as a child process: its wall time from here, its CPU time and peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=os.environ.copy(), cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "peak_mib": after.ru_maxrss / 1024}


def whole_processes(battles: int, models: int, seed: int, rounds: int, repeat: int, folder: Path) -> dict:
    """The command and the reference as whole processes on one battles file, alternating."""
    path = folder / f"battles-{battles}.jsonl"
    battles_file_write(path, battles, models, seed)
    command = [sys.executable, "manage.py", "arena_ratings", "--battles", str(path), "--bootstrap", str(rounds)]
    command.append("--json")
    reference = [sys.executable, __file__, "--reference-child", str(path)]
    runs: dict[str, list[dict]] = {"command": [], "reference": []}
    for _ in range(repeat):
        runs["command"].append(whole_process(command))
        runs["reference"].append(whole_process(reference))
    size = path.stat().st_size
    path.unlink()
    summary = {"battles": battles, "bytes": size}
    for name, results in runs.items():
        summary[name] = {key: statistics.median(result[key] for result in results) for key in ("wall", "cpu")}
        summary[name]["walls"] = [result["wall"] for result in results]
    return summary


def run_child(battles: int, models: int, rounds: int, seed: int) -> dict:
    command = [sys.executable, __file__, "--child", "--battles", str(battles), "--models", str(models)]
    command += ["--rounds", str(rounds), "--seed", str(seed)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--battles", type=int, default=1_500_000)
    parser.add_argument("--models", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--reference-rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--command-battles", type=int, default=300_000, help="largest file for the command check")
    parser.add_argument("--whole-repeat", type=int, default=3, help="runs of each whole process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--command-child", help=argparse.SUPPRESS)
    parser.add_argument("--reference-child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.battles, options.models, options.rounds, options.seed)
        return
    if options.command_child:
        command_child(options.command_child)
        return
    if options.reference_child:
        reference_child(options.reference_child)
        return

    n, m = options.battles, options.models
    # The child processes first, while this one is still small (see high_water_mib).
    children = [run_child(size, m, options.rounds, options.seed) for size in (n // 10, n)]
    with tempfile.TemporaryDirectory() as folder:
        command_runs = [
            command_memory(size, m, options.seed, Path(folder))
            for size in (options.command_battles // 10, options.command_battles)
        ]
        processes = whole_processes(n, m, options.seed, options.rounds, options.whole_repeat, Path(folder))
    import sklearn.linear_model  # noqa: F401, PLC0415 (so that no timing below includes the import)

    print(
        f"{n:,} battles, {m} models, {options.rounds} bootstrap rounds, seed {options.seed}; "
        f"cores: {os.cpu_count()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'not set')}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    truth = truth_of(m, options.seed)
    a, b, winner = simulate(truth, n, np.random.default_rng(options.seed + 1))
    names = [f"model-{i:03d}" for i in range(m)]
    print(f"ties: {np.mean(winner >= 2):.1%}")

    counts, aggregate_s, _, aggregate_cpu = timed(lambda: BattleCounts.from_arrays(names, a, b, winner), options.repeat)
    ratings, fit_s, _, fit_cpu = timed(lambda: fit_ratings(counts), options.repeat)
    board, board_s, board_all, board_cpu = timed(lambda: leaderboard(counts, rounds=options.rounds), options.repeat)
    ours = np.array([ratings[name] for name in names])

    start = time.perf_counter()
    design, won, weight = reference_design(a, b, winner, m)
    build_s = time.perf_counter() - start
    start, start_cpu = time.perf_counter(), time.process_time()
    reference = reference_fit(design, won, weight)
    reference_s, reference_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    del design, won, weight

    rng = np.random.default_rng(options.seed + 2)
    round_times, round_cpu = [], []
    for _ in range(options.reference_rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        pick = rng.integers(0, n, n)
        reference_fit(*reference_design(a[pick], b[pick], winner[pick], m))
        round_times.append(time.perf_counter() - start)
        round_cpu.append(time.process_time() - start_cpu)
    reference_round_s = statistics.mean(round_times) if round_times else float("nan")
    reference_bootstrap_s = reference_s + options.rounds * reference_round_s
    reference_bootstrap_cpu = reference_cpu + options.rounds * (statistics.mean(round_cpu) if round_cpu else 0.0)

    centred_truth = truth - truth.mean() + 1000.0

    difference = np.abs(ours - reference).max()
    error = np.abs(ours - centred_truth)
    covered = np.mean([r.lower <= centred_truth[names.index(r.model)] <= r.upper for r in board.ratings])
    width = np.median([r.upper - r.lower for r in board.ratings])

    print()
    print("| step | wall s | CPU s | wall ratio | CPU ratio |")
    print("|---|---:|---:|---:|---:|")
    print(f"| (a) aggregation of {n:,} battle arrays into counts | {aggregate_s:.3f} | {aggregate_cpu:.3f} | | |")
    print(
        f"| (b) engine fit on the counts | {fit_s:.4f} | {fit_cpu:.4f} | "
        f"{reference_s / fit_s:,.0f}x faster than (d) | {reference_cpu / fit_cpu:,.0f}x |"
    )
    print(
        f"| (c) engine fit + {options.rounds} bootstrap rounds | {board_s:.3f} | {board_cpu:.3f} | "
        f"{reference_bootstrap_s / board_s:,.0f}x faster than (e) | {reference_bootstrap_cpu / board_cpu:,.0f}x |"
    )
    whole, whole_cpu = aggregate_s + board_s, aggregate_cpu + board_cpu
    print(
        f"| (a) + (c) | {whole:.3f} | {whole_cpu:.3f} | {reference_bootstrap_s / whole:,.0f}x | "
        f"{reference_bootstrap_cpu / whole_cpu:,.0f}x |"
    )
    print(
        f"| (d) reference fit alone (sklearn lbfgs, per-battle rows) | {reference_s:.2f} | {reference_cpu:.2f} "
        "| 1 | 1 |"
    )
    print(f"|     building its {n + int((winner >= 2).sum()):,} sparse rows | {build_s:.2f} | | | |")
    print(
        f"| (e) reference fit + {options.rounds} rounds, EXTRAPOLATED from {options.reference_rounds} rounds "
        f"of {reference_round_s:.2f} s | {reference_bootstrap_s:.0f} | {reference_bootstrap_cpu:.0f} | 1 | 1 |"
    )
    print()
    print(f"(c) every repeat: {', '.join(f'{t:.3f}' for t in board_all)} s")
    print(f"largest |engine - reference| rating difference: {difference:.5f} points (goal < 0.1)")
    print(
        f"recovery of the true ratings: Spearman {spearmanr(ours, truth).statistic:.5f}, "
        f"largest error {error.max():.2f} points, mean error {error.mean():.2f}"
    )
    print(f"true ratings inside their 95% interval: {covered:.1%}; median interval width {width:.1f} points")
    print(f"peak memory of this process (engine, reference and the battle arrays): {peak_mib():.0f} MiB")

    print()
    print("memory with the battles counted in chunks of 100,000 (child processes, counting + leaderboard):")
    for result in children:
        print(
            f"  {result['battles']:>9,} battles: peak {result['peak_mib']:.0f} MiB (ru_maxrss), "
            f"{result['high_water_mib']:.0f} MiB (VmHWM); counting {result['count_s']:.2f} s, "
            f"leaderboard {result['leaderboard_s']:.3f} s"
        )
    print("memory of `manage.py arena_ratings --json` on a battles.jsonl (child processes, Django included):")
    for result in command_runs:
        print(
            f"  {result['battles']:>9,} battles ({result['bytes'] / 2**20:.0f} MiB file): "
            f"peak {result['high_water_mib']:.0f} MiB (VmHWM), {result['seconds']:.2f} s"
        )
    print()
    print(
        f"whole processes on one battles.jsonl of {processes['battles']:,} battles "
        f"({processes['bytes'] / 2**20:.0f} MiB), medians of {options.whole_repeat}:"
    )
    print("| process | wall s | CPU s |")
    print("|---|---:|---:|")
    command_s, reference_s = processes["command"], processes["reference"]
    print(
        f"| `manage.py arena_ratings --bootstrap {options.rounds} --json` "
        f"| {command_s['wall']:.2f} | {command_s['cpu']:.2f} |"
    )
    print(
        f"| reference: pandas `read_json(lines=True)` + one logistic fit "
        f"| {reference_s['wall']:.2f} | {reference_s['cpu']:.2f} |"
    )
    print(
        f"command runs: {', '.join(f'{t:.2f}' for t in command_s['walls'])} s; reference runs: "
        f"{', '.join(f'{t:.2f}' for t in reference_s['walls'])} s"
    )
    print(
        f"command / reference: {command_s['wall'] / reference_s['wall']:.3f} of the wall time (goal at most 0.1), "
        f"{command_s['cpu'] / reference_s['cpu']:.3f} of the CPU time"
    )


if __name__ == "__main__":
    main()
