"""Turning a task page's form fields into the answer body the response services take."""

from django.http import QueryDict

from feedback.models import TaskAssignment, TaskKind


def task_answer_from_post(*, assignment: TaskAssignment, data: QueryDict) -> dict:
    """The answer body for the assignment's kind, from its task page's form fields."""
    kind = assignment.item.kind
    if kind == TaskKind.RATE:
        return {
            "ratings": {key.removeprefix("scale-"): value for key, value in data.items() if key.startswith("scale-")}
        }
    if kind == TaskKind.FLAG:
        return {"labels": data.getlist("labels"), "note": data.get("note", "")}
    if kind == TaskKind.CORRECT:
        return {"text": data.get("text")}
    if kind == TaskKind.RANK:
        return {"order": _ranking_from(data)}
    return {"claims": _claims_from(data)}


def _ranking_from(data: QueryDict) -> list[list[int]] | None:
    """`place-<answer id>` = 1, 2, ... (equal places are ties) -> groups of ids, best first."""
    places: dict[int, list[int]] = {}
    for key, value in data.items():
        if not key.startswith("place-"):
            continue
        try:
            answer_id, place = int(key.removeprefix("place-")), int(value)
        except ValueError:
            return None
        places.setdefault(place, []).append(answer_id)
    return [places[place] for place in sorted(places)] or None


def _claims_from(data: QueryDict) -> list[dict]:
    """Rows `claim-<n>-id`, `claim-<n>-text`, `claim-<n>-verdict`, in row order; empty new rows dropped."""
    rows: dict[int, dict] = {}
    for key, value in data.items():
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "claim" and parts[1].isdigit() and parts[2] in {"id", "text", "verdict"}:
            rows.setdefault(int(parts[1]), {})[parts[2]] = value
    claims = []
    for index in sorted(rows):
        row = rows[index]
        if not row.get("id") and not row.get("text", "").strip() and not row.get("verdict"):
            continue  # an empty "add a claim" row
        claims.append({"id": row.get("id") or None, "text": row.get("text", ""), "verdict": row.get("verdict")})
    return claims
