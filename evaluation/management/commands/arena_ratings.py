"""Recompute arena ratings from a battles file (a release's `battles.jsonl`) with the site's engine."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evaluation.leaderboards.battles_file import BattlesFileError, battles_file_counts
from evaluation.leaderboards.engine import DEFAULT_ROUNDS, MIN_BATTLES, BattleCounts, leaderboard


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def battle_counts_from_file(path: Path) -> tuple[BattleCounts, int, int]:
    """(counts of the blind battles, blind battles, non-blind battles) of a battles JSONL file
    (`evaluation.leaderboards.battles_file`); a bad file or line is a CommandError naming it."""
    try:
        return battles_file_counts(path)
    except BattlesFileError as error:
        raise CommandError(str(error)) from None


class Command(BaseCommand):
    # Reads a file and computes: no database, URL or deployment check belongs before it.
    requires_system_checks: list[str] = []
    help = (
        "Arena ratings (Bradley-Terry, 400 points per factor 10 in odds, bootstrap 95% intervals) from a "
        "battles JSONL file such as a release's battles.jsonl. Only blind battles (anony == true) count."
    )

    def add_arguments(self, parser):
        parser.add_argument("--battles", required=True, type=Path, help="The battles JSONL file.")
        parser.add_argument(
            "--bootstrap", type=_positive, default=DEFAULT_ROUNDS, help=f"Bootstrap rounds (default {DEFAULT_ROUNDS})."
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap (default 0).")
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print one JSON object keyed by model name."
        )
        parser.add_argument("--anchor", help="Pin this model at 1000 (default: the mean rating is 1000).")
        parser.add_argument(
            "--min-battles",
            type=_non_negative,
            default=MIN_BATTLES,
            help=f"Fewer battles than this make a model provisional: listed, not ranked (default {MIN_BATTLES}).",
        )

    def handle(
        self, *args, battles: Path, bootstrap: int, seed: int, as_json: bool, anchor, min_battles: int, **options
    ):
        counts, blind, other = battle_counts_from_file(battles)
        if anchor is not None and anchor not in counts.index:
            raise CommandError(f"{battles}: the anchor model {anchor!r} has no blind battles.")
        board = leaderboard(counts, rounds=bootstrap, seed=seed, anchor=anchor, min_battles=min_battles)
        note = (
            f"Counted {blind:,} blind battles (anony == true); left out {other:,} non-blind. "
            f"{len(counts.models)} models, {bootstrap} bootstrap rounds, seed {seed}; "
            + (f"{anchor} pinned at 1000." if anchor else "mean rating 1000.")
        )
        if not board.is_connected:
            note += " Some models never met the others (directly or through others): their groups are not comparable."
        if as_json:
            self.stderr.write(note)
            self.stdout.write(_json_text(board))
            return
        self.stdout.write(note)
        self.stdout.write(_table(board))


def _json_text(board) -> str:
    return json.dumps(
        {
            rating.model: {
                "rating": round(rating.rating, 2),
                "lower": round(rating.lower, 2),
                "upper": round(rating.upper, 2),
                "rank": rating.rank,
                "battles": rating.battles,
            }
            for rating in board.ratings
        },
        indent=2,
        ensure_ascii=False,
    )


def _table(board) -> str:
    width = max(len("model"), *(len(rating.model) for rating in board.ratings))
    lines = [f"{'rank':>4}  {'model':<{width}}  {'rating':>8}  {'95% interval':>19}  {'battles':>8}"]
    for rating in board.ratings:
        rank = "-" if rating.rank is None else str(rating.rank)
        interval = f"{rating.lower:.1f} - {rating.upper:.1f}"
        line = f"{rank:>4}  {rating.model:<{width}}  {rating.rating:8.1f}  {interval:>19}  {rating.battles:>8,}"
        if rating.provisional:
            line += "  provisional"
        lines.append(line)
    if any(rating.provisional for rating in board.ratings):
        lines.append(f"provisional: fewer than {board.min_battles} battles; rated but not ranked.")
    return "\n".join(lines)
