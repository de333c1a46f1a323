"""Is a response to a gold item right? (pure, no Django)

Gold items carry a known answer in `gold_answer`; each kind has its own rule:

- rate: {"ratings": {"helpfulness": 4, ...}}: right when every given scale is within one point
  of the known value (Likert answers are noisy; a miss by two or more is wrong);
- flag: {"labels": ["spam"]}: right when the chosen set of labels is exactly the known one;
- rank: {"best": <message id>}: right when the known best answer is ranked first (alone or tied);
- check_claims: {"verdicts": {"<claim id>": "false", ...}}: right when at least 80% of the known
  claims get the known verdict.
- correct: writing has no single right answer; gold is not used for it.
"""

from collections.abc import Mapping, Sequence


def gold_response_is_correct(kind: str, gold_answer: Mapping, response: Mapping) -> bool | None:
    """True or False for a gold item's response, or None when the item's gold answer does not
    say anything about this kind of response."""
    if kind == "rate":
        known = gold_answer.get("ratings") or {}
        given = response.get("ratings") or {}
        if not known:
            return None
        return all(name in given and abs(int(given[name]) - int(value)) <= 1 for name, value in known.items())
    if kind == "flag":
        if "labels" not in gold_answer:
            return None
        return set(gold_answer["labels"]) == set(response.get("labels") or [])
    if kind == "rank":
        if "best" not in gold_answer:
            return None
        order: Sequence[Sequence[int]] = response.get("order") or []
        return bool(order) and int(gold_answer["best"]) in [int(i) for i in order[0]]
    if kind == "check_claims":
        known = gold_answer.get("verdicts") or {}
        if not known:
            return None
        given = {str(k): v for k, v in (response.get("verdicts") or {}).items()}
        right = sum(1 for claim_id, verdict in known.items() if given.get(str(claim_id)) == verdict)
        return right >= 0.8 * len(known)
    return None
