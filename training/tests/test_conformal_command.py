"""`manage.py conformal_calibrate`: the threshold of a claims file, its refusal, and bad input answered clearly."""

import io
import json
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from training.calibration.conformal import ClaimTable, conformal_threshold, conformal_validity
from training.management.commands.conformal_calibrate import LOWEST_DOUBLE, REFUSAL_EXIT_STATUS

ROOT = Path(__file__).resolve().parents[2]


def answer(answer_id, *claims, prompt="What is the capital of France?"):
    return {
        "answer_id": answer_id,
        "prompt": prompt,
        "claims": [{"text": f"claim {i}", "label": label, "score": score} for i, (label, score) in enumerate(claims)],
    }


def answers_file(path, count=20):
    """`count` answers; answer i has a true claim at 1 + i/100, a false one at i/100 (when i is odd), a
    subjective one at 0.005 + i/100 (when i is a multiple of 3) and an unverifiable one at -1 (when i % 4 == 1)."""
    records = []
    for i in range(count):
        claims = [("true", 1 + i / 100)]
        if i % 2:
            claims.append(("false", i / 100))
        if i % 3 == 0:
            claims.append(("subjective", 0.005 + i / 100))
        if i % 4 == 1:
            claims.append(("unverifiable", -1.0))
        records.append(answer(f"a{i}", *claims))
    return write(path, records), records


def write(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("conformal_calibrate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def engine(records, alpha, a, correct_labels=("true",)):
    table = ClaimTable.from_answers(
        [[c["score"] for c in r["claims"]] for r in records],
        [[c["label"] in correct_labels for c in r["claims"]] for r in records],
    )
    return conformal_threshold(table, alpha, a)


def test_json_output(tmp_path):
    path, records = answers_file(tmp_path / "claims.jsonl")
    out, _ = run("--claims", str(path), "--alpha", "0.1", "--a", "1", "--json")
    report = json.loads(out)
    expected = engine(records, "0.1", "1")
    # r(x) is the highest score of a claim that is not true: 0.005 + i/100 (subjective) when i % 3 == 0, else
    # i/100 (false) for odd i; minus infinity for i = 2, 4, 8, 10, 14, 16. The threshold is the
    # ceil(21 * 0.9) = 19th smallest of the 20: the second largest, answer 18's.
    assert expected.threshold == 0.005 + 18 / 100
    assert report == {
        "threshold": 0.005 + 18 / 100,
        "keeps_every_claim": False,
        "n": 20,
        "claims": 20 + 10 + 7 + 5,
        "alpha": 0.1,
        "a": 1.0,
        "correct_labels": ["true"],
        "guarantee": {"lower": 0.9, "upper": float(Fraction(9, 10) + Fraction(1, 21))},
        "quantile_index": 19,
        "minimum_n": 9,
        "tied_answers": 0,
        "refused": False,
        "reason": None,
    }


def test_correct_labels_subjective(tmp_path):
    path, records = answers_file(tmp_path / "claims.jsonl")
    out, _ = run("--claims", str(path), "--alpha", "0.2", "--a", "1", "--correct-labels", "true,subjective", "--json")
    report = json.loads(out)
    expected = engine(records, "0.2", "1", correct_labels=("true", "subjective"))
    # Subjective counts: r(x) is i/100 for odd i, minus infinity for the 10 even ones; ceil(21 * 0.8) = 17th.
    assert report["threshold"] == expected.threshold == 13 / 100
    assert report["correct_labels"] == ["subjective", "true"]
    default, _ = run("--claims", str(path), "--alpha", "0.2", "--a", "1", "--json")
    assert json.loads(default)["threshold"] == engine(records, "0.2", "1").threshold == 0.005 + 15 / 100


def test_level_below_one(tmp_path):
    path, records = answers_file(tmp_path / "claims.jsonl")
    out, _ = run("--claims", str(path), "--alpha", "0.25", "--a", "0.5", "--json")
    assert json.loads(out)["threshold"] == engine(records, "0.25", "0.5").threshold
    text, _ = run("--claims", str(path), "--alpha", "0.25", "--a", "0.5")
    assert "P(at least 0.5 of the kept claims are correct)" in text
    assert "Below a = 1 only the lower bound is sure" in text


def test_every_claim_kept_is_the_lowest_double(tmp_path):
    path = write(tmp_path / "claims.jsonl", [answer(f"a{i}", ("true", 0.5)) for i in range(10)])
    out, _ = run("--claims", str(path), "--alpha", "0.1", "--a", "1", "--json")
    report = json.loads(out)
    assert report["threshold"] == LOWEST_DOUBLE == -sys.float_info.max
    assert report["keeps_every_claim"] is True
    text, _ = run("--claims", str(path), "--alpha", "0.1", "--a", "1")
    assert "Threshold: minus infinity (every claim is kept)." in text


def test_ties_are_reported(tmp_path):
    path = write(tmp_path / "claims.jsonl", [answer(f"a{i}", ("true", 2.0), ("false", 1.0)) for i in range(10)])
    report = json.loads(run("--claims", str(path), "--alpha", "0.1", "--a", "1", "--json")[0])
    assert report["tied_answers"] == 10
    assert report["threshold"] == 1.0


def test_validity_option(tmp_path):
    path, records = answers_file(tmp_path / "claims.jsonl", count=40)
    out, _ = run("--claims", str(path), "--alpha", "0.3", "--a", "1", "--json", "--splits", "200", "--seed", "5")
    validity = json.loads(out)["validity"]
    expected = conformal_validity(
        [[c["label"] == "true" for c in r["claims"]] for r in records],
        {"score": [[c["score"] for c in r["claims"]] for r in records]},
        ["0.3"],
        1,
        splits=200,
        seed=5,
    ).curves["score"][0]
    assert validity["splits"] == 200
    assert (validity["calibration_size"], validity["test_size"]) == (20, 20)
    assert validity["factuality"] == expected.factuality
    assert validity["removed"] == expected.removed
    assert (validity["lower"], validity["upper"]) == (0.7, float(Fraction(7, 10) + Fraction(1, 21)))


def test_refusal_prints_null_and_fails(tmp_path):
    path, _ = answers_file(tmp_path / "claims.jsonl", count=8)
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("conformal_calibrate", "--claims", str(path), "--alpha", "0.1", "--a", "1", "--json", stdout=out)
    assert raised.value.returncode == REFUSAL_EXIT_STATUS
    report = json.loads(out.getvalue())
    assert report["threshold"] is None
    assert report["guarantee"] is None
    assert report["refused"] is True
    assert report["n"] == 8
    assert report["quantile_index"] == 9
    assert report["reason"] == str(raised.value)
    assert "at least 9 answers are needed" in report["reason"]


def test_refusal_exit_status_from_the_shell(tmp_path):
    path, _ = answers_file(tmp_path / "claims.jsonl", count=18)
    done = subprocess.run(
        [sys.executable, "manage.py", "conformal_calibrate", "--claims", str(path), "--alpha", "0.05", "--a", "1"]
        + ["--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"},
        check=False,
    )
    assert done.returncode == REFUSAL_EXIT_STATUS
    assert json.loads(done.stdout)["threshold"] is None
    assert "Traceback" not in done.stderr
    assert "18 calibration answers are too few for alpha = 0.05" in done.stderr


def claim_line(**overrides):
    record = answer("x", ("true", 0.5))
    record["claims"][0].update(overrides)
    return json.dumps(record)


BAD_LINES = [
    ("{not json", "line 2 is not JSON"),
    ("[1, 2]", "line 2 must be one JSON object"),
    (json.dumps({"prompt": "p", "claims": []}), "line 2: 'answer_id' must be a non-empty string"),
    (json.dumps({"answer_id": "x", "claims": []}), "line 2: 'prompt' must be a string"),
    (json.dumps({"answer_id": "x", "prompt": "p", "claims": {}}), "line 2: 'claims' must be a list"),
    (json.dumps({"answer_id": "x", "prompt": "p", "claims": ["c"]}), "line 2, claim 1 must be a JSON object"),
    (claim_line(label="wrong"), "line 2, claim 1: 'label' must be one of true, false, subjective, unverifiable"),
    (claim_line(label=None), "not null"),
    (json.dumps({"answer_id": "x", "prompt": "p", "claims": [{"text": "t", "label": "true"}]}), "has no 'score'"),
    (claim_line(score="0.5"), "line 2, claim 1: 'score' must be a finite number"),
    (claim_line(score=True), "'score' must be a finite number"),
    (claim_line(score=None), "'score' must be a finite number"),
    ('{"answer_id": "x", "prompt": "p", "claims": [{"text": "t", "label": "true", "score": NaN}]}', "finite number"),
    (claim_line(text=3), "line 2, claim 1: 'text' must be a string"),
    (json.dumps(answer("a0", ("true", 0.2))), 'answer_id "a0" is already on line 1'),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_bad_line_names_its_number(tmp_path, line, message):
    path = tmp_path / "claims.jsonl"
    path.write_text(json.dumps(answer("a0", ("true", 0.1))) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(CommandError) as raised:
        run("--claims", str(path), "--alpha", "0.1", "--a", "1", "--json")
    assert message in str(raised.value)
    assert raised.value.returncode == 1


def test_blank_lines_skipped_and_numbering_kept(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_text(json.dumps(answer("a0", ("true", 0.1))) + "\n\n  \n" + "{bad\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 4 is not JSON"):
        run("--claims", str(path), "--alpha", "0.1", "--a", "1")


def test_not_utf8(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_bytes(json.dumps(answer("a0", ("true", 0.1))).encode() + b"\n\xff\xfe\n")
    with pytest.raises(CommandError, match="line 2 is not UTF-8"):
        run("--claims", str(path), "--alpha", "0.1", "--a", "1")


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(CommandError, match="holds no answers"):
        run("--claims", str(empty), "--alpha", "0.1", "--a", "1")
    with pytest.raises(CommandError, match="cannot be read"):
        run("--claims", str(tmp_path / "missing.jsonl"), "--alpha", "0.1", "--a", "1")
    with pytest.raises(CommandError, match="cannot be read"):
        run("--claims", str(tmp_path), "--alpha", "0.1", "--a", "1")


@pytest.mark.parametrize(
    ("alpha", "a", "message"),
    [
        ("0", "1", "alpha must be strictly between 0 and 1, not 0."),
        ("1", "1", "alpha must be strictly between 0 and 1, not 1."),
        ("1.5", "1", "alpha must be strictly between 0 and 1, not 1.5."),
        ("-0.1", "1", "alpha must be strictly between 0 and 1, not -0.1."),
        ("abc", "1", "alpha must be a number, not 'abc'."),
        ("nan", "1", "alpha must be a number, not 'nan'."),
        ("0.1", "0", "a must be greater than 0 and at most 1, not 0."),
        ("0.1", "1.2", "a must be greater than 0 and at most 1, not 1.2."),
        ("0.1", "x", "a must be a number, not 'x'."),
    ],
)
def test_bad_alpha_or_level(tmp_path, alpha, a, message):
    path, _ = answers_file(tmp_path / "claims.jsonl")
    with pytest.raises(CommandError) as raised:
        run("--claims", str(path), "--alpha", alpha, "--a", a)
    assert str(raised.value) == message


@pytest.mark.parametrize("labels", ["false", "true,unverifiable", "subjective", "", "true,,subjective", "TRUE"])
def test_bad_correct_labels(tmp_path, labels):
    path, _ = answers_file(tmp_path / "claims.jsonl")
    with pytest.raises(CommandError) as raised:
        run("--claims", str(path), "--alpha", "0.1", "--a", "1", "--correct-labels", labels)
    assert str(raised.value) == f"--correct-labels takes 'true' or 'true,subjective', not {labels!r}."


def test_bad_input_from_the_shell_has_no_traceback(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_text(claim_line(label="maybe") + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "manage.py", "conformal_calibrate", "--claims", str(path), "--alpha", "0.1", "--a", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"},
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "line 1, claim 1: 'label' must be one of true, false, subjective, unverifiable, not \"maybe\"." in (
        done.stderr
    )


def test_guarantee_upper_is_finite_json(tmp_path):
    path, _ = answers_file(tmp_path / "claims.jsonl", count=9)
    report = json.loads(run("--claims", str(path), "--alpha", "0.1", "--a", "1", "--json")[0])
    assert report["guarantee"] == {"lower": 0.9, "upper": 1.0}
    assert math.isfinite(report["threshold"])


def test_a_release_claims_row_with_scores_added_is_read(tmp_path):
    # A release's claims.jsonl row (feedback/releases/formats.py) carries votes, agreement and more: joined to
    # the scores, it is a line of the claims file as it stands.
    from feedback.releases.formats import claim_record

    records = []
    for i in range(10):
        row = claim_record(
            {
                "answer_id": f"ans-{i}",
                "prompt": "Name a prime.",
                "answer": "2 is prime. 9 is prime.",
                "claims": [
                    {"text": "2 is prime.", "labels": {"true": 3}},
                    {"text": "9 is prime.", "labels": {"false": 2}},
                ],
                "annotators": 3,
                "community": "open-commons",
                "language": "en",
                "licence": "CC-BY-4.0",
            }
        )
        for claim, score in zip(row["claims"], (2 + i / 100, 1 + i / 100), strict=True):
            claim["score"] = score
        records.append(row)
    path = write(tmp_path / "claims.jsonl", records)
    report = json.loads(run("--claims", str(path), "--alpha", "0.1", "--a", "1", "--json")[0])
    # r(x) = 1 + i/100 (the false claim); the 10th smallest of 10 is answer 9's.
    assert report["threshold"] == 1 + 9 / 100
    assert report["n"] == 10
    assert report["claims"] == 20
