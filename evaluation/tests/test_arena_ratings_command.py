"""`manage.py arena_ratings`: recomputing ratings from a battles file, and its refusals."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evaluation.leaderboards.engine import BattleCounts, leaderboard

ROOT = Path(__file__).resolve().parents[2]


def battle(model_a, model_b, winner, *, anony=True, **extra):
    """A record of the release's battles.jsonl (feedback/releases/formats.py: battle_record)."""
    return {
        "id": "battle-1",
        "model_a": model_a,
        "model_b": model_b,
        "winner": winner,
        "judge": "judge-1",
        "conversation_a": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        "conversation_b": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}],
        "turn": 1,
        "anony": anony,
        "language": "en",
        "tstamp": 1767225600.0,
        "community": "open-commons",
        "licence": "CC-BY-4.0",
        **extra,
    }


def league():
    """60 blind battles among three models, 4 non-blind ones, and a newcomer with 3 battles."""
    records = []
    for _ in range(10):
        records += [
            battle("strong", "middle", "model_a"),
            battle("middle", "strong", "model_b"),
            battle("strong", "weak", "model_a"),
            battle("weak", "middle", "model_b"),
            battle("middle", "weak", "tie"),
            battle("weak", "strong", "tie (bothbad)"),
        ]
    records += [battle("weak", "strong", "model_a", anony=False)] * 4
    records += [battle("newcomer", "weak", "model_a"), battle("strong", "newcomer", "model_a")] + [
        battle("newcomer", "middle", "tie")
    ]
    return records


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write(path, records):
    return write_lines(path, [json.dumps(record) for record in records])


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("arena_ratings", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def engine_board(records, **options):
    blind = [(r["model_a"], r["model_b"], r["winner"]) for r in records if r["anony"]]
    return leaderboard(BattleCounts.from_battles(blind), **options)


def test_table(tmp_path):
    path = write(tmp_path / "battles.jsonl", league())
    out, _ = run("--battles", str(path), "--min-battles", "10", "--bootstrap", "50", "--seed", "3")
    board = engine_board(league(), rounds=50, seed=3, min_battles=10)
    lines = out.splitlines()
    assert lines[0] == (
        "Counted 63 blind battles (anony == true); left out 4 non-blind. "
        "4 models, 50 bootstrap rounds, seed 3; mean rating 1000."
    )
    assert lines[1] == "rank  model       rating         95% interval   battles"
    expected = []
    for r in board.ratings:
        rank = "-" if r.rank is None else str(r.rank)
        interval = f"{r.lower:.1f} - {r.upper:.1f}"
        line = f"{rank:>4}  {r.model:<8}  {r.rating:8.1f}  {interval:>19}  {r.battles:>8,}"
        expected.append(line + ("  provisional" if r.provisional else ""))
    assert lines[2:6] == expected
    assert lines[2].split()[:2] == ["1", "strong"]
    assert lines[-1] == "provisional: fewer than 10 battles; rated but not ranked."
    newcomer = next(line for line in lines if " newcomer " in line)
    assert newcomer.lstrip().startswith("-") and newcomer.endswith("provisional")


def test_json_format_exactly(tmp_path):
    path = write(tmp_path / "battles.jsonl", league())
    out, err = run("--battles", str(path), "--json", "--min-battles", "10", "--bootstrap", "40")
    data = json.loads(out)
    board = engine_board(league(), rounds=40, seed=0, min_battles=10)
    assert list(data) == board.models
    for r in board.ratings:
        assert data[r.model] == {
            "rating": round(r.rating, 2),
            "lower": round(r.lower, 2),
            "upper": round(r.upper, 2),
            "rank": r.rank,
            "battles": r.battles,
        }
    assert data["newcomer"]["rank"] is None and data["newcomer"]["battles"] == 3
    assert data["strong"]["rank"] == 1
    assert "Counted 63 blind battles (anony == true); left out 4 non-blind." in err


def test_anchor_and_seed(tmp_path):
    path = write(tmp_path / "battles.jsonl", league())
    out, _ = run("--battles", str(path), "--json", "--anchor", "middle", "--bootstrap", "20")
    data = json.loads(out)
    assert data["middle"]["rating"] == data["middle"]["lower"] == data["middle"]["upper"] == 1000
    again, _ = run("--battles", str(path), "--json", "--anchor", "middle", "--bootstrap", "20")
    assert again == out
    with pytest.raises(CommandError, match="anchor model 'nobody' has no blind battles"):
        run("--battles", str(path), "--anchor", "nobody")


def test_blank_lines_and_windows_line_ends_are_read(tmp_path):
    records = league()
    path = write_lines(tmp_path / "battles.jsonl", [json.dumps(r) + "\r" for r in records] + [""])
    out, _ = run("--battles", str(path), "--json", "--bootstrap", "10")
    assert json.loads(out)["strong"]["battles"] == 41


BAD_LINES = [
    ("unknown winner", battle("x", "y", "model_c"), "line 2: unknown winner 'model_c'"),
    (
        "missing field",
        {k: v for k, v in battle("x", "y", "tie").items() if k != "winner"},
        "line 2: missing field winner",
    ),
    ("self-play", battle("x", "x", "tie"), "line 2: model 'x' plays itself"),
    ("non-blind self-play", battle("x", "x", "tie", anony=False), "line 2: model 'x' plays itself"),
    ("anony not a bool", battle("x", "y", "tie", anony="yes"), "line 2: anony must be true or false"),
    ("model not a string", battle(3, "y", "tie"), "line 2: model_a must be a non-empty string"),
    ("not an object", [1, 2], "line 2: expected a JSON object"),
]


@pytest.mark.parametrize(("record", "message"), [case[1:] for case in BAD_LINES], ids=[c[0] for c in BAD_LINES])
def test_bad_records_name_the_file_and_line(tmp_path, record, message):
    path = write(tmp_path / "battles.jsonl", [battle("x", "y", "model_a"), record, battle("y", "x", "tie")])
    with pytest.raises(CommandError) as raised:
        run("--battles", str(path))
    assert str(raised.value).startswith(f"{path}, {message}")


def test_bad_json_names_the_line(tmp_path):
    path = write_lines(tmp_path / "battles.jsonl", [json.dumps(battle("x", "y", "tie")), "", '{"model_a": "x",'])
    with pytest.raises(CommandError, match=r"battles\.jsonl, line 3: not valid JSON"):
        run("--battles", str(path))


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "battles.jsonl"
    path.write_bytes(json.dumps(battle("x", "y", "tie")).encode() + b"\n\xff\xfe\n")
    with pytest.raises(CommandError, match=r"battles\.jsonl, line 2: not UTF-8 text"):
        run("--battles", str(path))


def test_no_battles(tmp_path):
    empty = write_lines(tmp_path / "empty.jsonl", [])
    with pytest.raises(CommandError, match=r"empty\.jsonl: no blind battles \(anony == true\) to rate: it holds no"):
        run("--battles", str(empty))
    open_only = write(tmp_path / "open.jsonl", [battle("x", "y", "tie", anony=False)] * 2)
    with pytest.raises(CommandError, match="all 2 battles are non-blind"):
        run("--battles", str(open_only))


def test_missing_file(tmp_path):
    with pytest.raises(CommandError, match=r"nowhere\.jsonl: no such file"):
        run("--battles", str(tmp_path / "nowhere.jsonl"))


def test_bad_options_are_refused(tmp_path):
    path = write(tmp_path / "battles.jsonl", league())
    with pytest.raises(CommandError, match="bootstrap"):
        run("--battles", str(path), "--bootstrap", "0")
    with pytest.raises(CommandError, match="min-battles"):
        run("--battles", str(path), "--min-battles", "-1")


def test_exit_status_and_message_from_the_shell(tmp_path):
    good = write(tmp_path / "good.jsonl", league())
    bad = write(tmp_path / "bad.jsonl", [battle("x", "y", "tie"), battle("x", "y", "draw")])
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings_test"

    def manage(path, *extra):
        command = [sys.executable, "manage.py", "arena_ratings", "--battles", str(path), *extra]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)

    failed = manage(bad)
    assert failed.returncode != 0
    assert f"{bad}, line 2: unknown winner 'draw'" in failed.stderr
    assert failed.stdout == ""
    succeeded = manage(good, "--json", "--bootstrap", "10")
    assert succeeded.returncode == 0
    assert set(json.loads(succeeded.stdout)) == {"strong", "middle", "weak", "newcomer"}


# --- the two readers (evaluation/leaderboards/battles_file.py) --------------------------------


def counted_by_hand(path):
    """Blind (model_a, model_b, winner) counts and the non-blind count, line by line with the
    standard library: the independent computation both readers must match."""
    from collections import Counter

    blind, other = Counter(), 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record["anony"]:
                blind[(record["model_a"], record["model_b"], record["winner"])] += 1
            else:
                other += 1
    return blind, other


def as_counter(counts):
    """A BattleCounts as per-pair outcome counts, comparable with counted_by_hand's."""
    from collections import Counter

    cells = Counter()
    for (first, second), (won, lost, tied) in zip(
        zip(counts.pair_first.tolist(), counts.pair_second.tolist(), strict=True),
        counts.pair_counts.tolist(),
        strict=True,
    ):
        cells[(counts.models[first], counts.models[second])] += 0  # the pair exists
        cells[(counts.models[first], counts.models[second], "first")] += won
        cells[(counts.models[first], counts.models[second], "second")] += lost
        cells[(counts.models[first], counts.models[second], "tie")] += tied
    return +cells


def by_pair(blind):
    from collections import Counter

    cells = Counter()
    for (a, b, winner), count in blind.items():
        first, second = sorted((a, b))
        if winner in ("tie", "tie (bothbad)"):
            side = "tie"
        else:
            won = a if winner == "model_a" else b
            side = "first" if won == first else "second"
        cells[(first, second, side)] += count
    return +cells


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([json.dumps(r) for r in league()], id="release shape"),
        pytest.param([json.dumps(r) + "\r" for r in league()] + ["", "  \t"], id="CRLF and blank lines"),
        pytest.param(["  " + json.dumps(r) + " " for r in league()], id="spaces around"),
        pytest.param([json.dumps(r).replace('"turn": 1', '"turn": NaN') for r in league()], id="NaN in a field"),
        pytest.param(  # pyarrow refuses a lone surrogate and 1e400, the standard library reads them
            [json.dumps(r).replace('"turn": 1', '"turn": 1e400, "note": "\\ud800"') for r in league()],
            id="only the exact reader",
        ),
    ],
)
def test_both_readers_count_what_the_standard_library_counts(tmp_path, lines):
    from evaluation.leaderboards.battles_file import _exact_counts, _fast_counts, battles_file_counts

    path = write_lines(tmp_path / "battles.jsonl", lines)
    blind, other = counted_by_hand(path)
    counts, blind_total, other_total = battles_file_counts(path)
    assert (
        (as_counter(counts), blind_total, other_total)
        == (by_pair(blind), 63, 4)
        == (by_pair(blind), sum(blind.values()), other)
    )
    cells, *totals = _exact_counts(path)
    assert (as_counter(BattleCounts.from_counts(cells.rows())), *totals) == (by_pair(blind), 63, 4)
    fast = _fast_counts(path)
    if "1e400" in lines[0]:
        assert fast is None  # pyarrow cannot read it: the exact reader decides
    else:
        cells, *totals = fast
        assert (as_counter(BattleCounts.from_counts(cells.rows())), *totals) == (by_pair(blind), 63, 4)


def test_the_fast_reader_reads_a_file_in_many_pieces(tmp_path, monkeypatch):
    from evaluation.leaderboards import battles_file

    path = write_lines(tmp_path / "battles.jsonl", [json.dumps(r) for r in league()] + ["", json.dumps(league()[0])])
    monkeypatch.setattr(battles_file, "_CHECK_BYTES", 100)  # shorter than a line
    cells, *totals = battles_file._fast_counts(path)
    blind, _ = counted_by_hand(path)
    assert (as_counter(BattleCounts.from_counts(cells.rows())), *totals) == (by_pair(blind), 64, 4)


GOOD = json.dumps(battle("x", "y", "tie"))
# What pyarrow's JSON reader accepts and a line-by-line reader does not (measured), and values it
# reads but the rules refuse: each gets the exact reader's message for its line.
LENIENT = [
    (
        "two objects on one line",
        [GOOD, GOOD + " " + GOOD],
        f"line 2: not valid JSON (Extra data, column {len(GOOD) + 2})",
    ),
    (
        "an object over two lines",
        [GOOD, GOOD[: GOOD.index('"model_a"')], GOOD[GOOD.index('"model_a"') :]],
        "line 2: not valid JSON (Expecting property name",
    ),
    ("a byte-order mark", ["\ufeff" + GOOD, GOOD], "line 1: not valid JSON (Unexpected UTF-8 BOM"),
    ("a null model", [GOOD, GOOD.replace('"x"', "null")], "line 2: model_a must be a non-empty string, got None."),
    ("an empty model", [GOOD, GOOD.replace('"y"', '""')], "line 2: model_b must be a non-empty string, got ''."),
    ("anony 1", [GOOD, GOOD.replace('"anony": true', '"anony": 1')], "line 2: anony must be true or false, got 1."),
    ("anony null", [GOOD, GOOD.replace('"anony": true', '"anony": null')], "line 2: anony must be true or false"),
]


@pytest.mark.parametrize(("lines", "message"), [case[1:] for case in LENIENT], ids=[case[0] for case in LENIENT])
def test_what_only_pyarrow_would_accept_is_refused_with_the_line(tmp_path, lines, message):
    path = write_lines(tmp_path / "battles.jsonl", lines)
    with pytest.raises(CommandError) as raised:
        run("--battles", str(path))
    assert str(raised.value).startswith(f"{path}, {message}")


def test_invalid_utf8_inside_a_field_the_ratings_ignore_is_refused(tmp_path):
    path = tmp_path / "battles.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + GOOD.replace('"judge-1"', '"judge-\xff"').encode("latin-1") + b"\n")
    with pytest.raises(CommandError, match=r"battles\.jsonl, line 2: not UTF-8 text"):
        run("--battles", str(path))
