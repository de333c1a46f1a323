"""`manage.py autobencher_metrics`: the metrics of a candidate file against existing benchmarks, and bad input."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]

CANDIDATE = {"m1": 0.2, "m2": 0.5, "m3": 0.4, "m4": 0.9, "m5": 0.1}
EXISTING = {"x": {"m1": 0.3, "m2": 0.2, "m3": 0.6, "m4": 0.8, "m5": 0.1}}


def write(path, value):
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def run(*args):
    out = io.StringIO()
    call_command("autobencher_metrics", *args, stdout=out)
    return out.getvalue()


def test_json(tmp_path):
    candidate, existing = write(tmp_path / "c.json", CANDIDATE), write(tmp_path / "e.json", EXISTING)
    report = json.loads(run("--candidate", candidate, "--existing", existing, "--json"))
    # By hand (test_autobencher_metrics.py): difficulty 1 - 0.9, separability 1.12 / 5, novelty 1 - 0.7.
    assert set(report) == {"difficulty", "separability", "novelty"}
    assert report["difficulty"] == 1 - 0.9
    assert report["separability"] == pytest.approx(0.224, abs=1e-15)
    assert report["novelty"] == pytest.approx(0.3, abs=1e-12)


def test_undefined_novelty_has_a_reason(tmp_path):
    candidate, existing = write(tmp_path / "c.json", {"a": 0.1, "b": 0.4}), write(tmp_path / "e.json", {})
    report = json.loads(run("--candidate", candidate, "--existing", existing, "--json"))
    assert report == {
        "difficulty": 0.6,
        "separability": 0.15000000000000002,
        "novelty": None,
        "reason": "The least-squares prediction is the same for every model (there are no existing benchmarks): "
        "a constant vector has no rank correlation.",
    }
    constant = write(tmp_path / "k.json", dict.fromkeys(CANDIDATE, 0.5))
    report = json.loads(run("--candidate", constant, "--existing", write(tmp_path / "e2.json", EXISTING), "--json"))
    assert report["novelty"] is None
    assert report["reason"].startswith("Every model has the same accuracy on the candidate (0.5)")


def test_text(tmp_path):
    candidate, existing = write(tmp_path / "c.json", CANDIDATE), write(tmp_path / "e.json", EXISTING)
    assert run("--candidate", candidate, "--existing", existing).splitlines() == [
        "5 models, 1 existing benchmarks.",
        "difficulty    0.1000",
        "separability  0.2240",
        "novelty       0.3000",
    ]


@pytest.mark.parametrize(
    ("candidate_text", "existing_text", "message"),
    [
        ("{", "{}", "The candidate file {c} is not JSON: Expecting property name enclosed in double quotes (line 1"),
        ('{"m": 0.5}', '{"x": \n [}', "The existing benchmarks file {e} is not JSON: Expecting value (line 2"),
        ("[0.5]", "{}", "The candidate file {c} must hold one JSON object."),
        ('{"m": 0.5}', "3", "The existing benchmarks file {e} must hold one JSON object."),
        ("{}", "{}", "The candidate must map at least one model to its accuracy."),
        ('{"m": 2}', "{}", "The candidate's accuracy of 'm' must be an accuracy between 0 and 1, not 2."),
        ('{"m": NaN}', "{}", "The candidate's accuracy of 'm' must be a number, not nan."),
        ('{"m": 0.5, "n": 0.1}', '{"x": {"m": 0.2}}', "The existing benchmark 'x' has no accuracy for 'n'."),
    ],
)
def test_bad_input(tmp_path, candidate_text, existing_text, message):
    candidate, existing = tmp_path / "c.json", tmp_path / "e.json"
    candidate.write_text(candidate_text, encoding="utf-8")
    existing.write_text(existing_text, encoding="utf-8")
    with pytest.raises(CommandError) as raised:
        run("--candidate", str(candidate), "--existing", str(existing), "--json")
    assert str(raised.value).startswith(message.format(c=candidate, e=existing))


def test_unreadable_files(tmp_path):
    existing = write(tmp_path / "e.json", {})
    with pytest.raises(CommandError, match="The candidate file .* cannot be read"):
        run("--candidate", str(tmp_path / "missing.json"), "--existing", existing)
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe{}")
    with pytest.raises(CommandError, match="The existing benchmarks file .* is not UTF-8."):
        run("--candidate", write(tmp_path / "c.json", CANDIDATE), "--existing", str(binary))


def test_bad_input_from_the_shell_has_no_traceback(tmp_path):
    candidate, existing = write(tmp_path / "c.json", {"m": "high"}), write(tmp_path / "e.json", {})
    done = subprocess.run(
        [sys.executable, "manage.py", "autobencher_metrics", "--candidate", candidate, "--existing", existing]
        + ["--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"},
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "The candidate's accuracy of 'm' must be a number, not 'high'." in done.stderr
