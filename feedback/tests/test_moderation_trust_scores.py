"""The trust scores and the gate's arithmetic, against numbers worked out by hand (no database)."""

import math

import pytest

from feedback.models import FlagLabel
from feedback.moderation import trust
from feedback.moderation.gate_rules import (
    FLAG_LABELS_FAILING,
    flag_review_score,
    gate_decide,
    rating_review_score,
    reviews_weighted,
)


def test_every_flag_label_fails_a_review():
    assert set(FlagLabel.values) == FLAG_LABELS_FAILING


def test_review_scores():
    # (5-1)/4 = 1, (3-1)/4 = 0.5, (2-1)/4 = 0.25: mean 1.75/3.
    assert rating_review_score([5, 3, 2]) == pytest.approx(1.75 / 3)
    assert rating_review_score([1]) == 0.0
    assert flag_review_score([]) == 1.0
    assert flag_review_score(["spam"]) == 0.0
    assert flag_review_score(["wrong_language", "toxic"]) == 0.0
    with pytest.raises(ValueError):
        rating_review_score([])
    with pytest.raises(ValueError):
        rating_review_score([6])


def test_gate_needs_k_reviews_and_the_threshold():
    # Two passing reviews of three needed: not accepted, however good.
    result = gate_decide([(1.0, 1.0), (1.0, 1.0)], reviews_needed=3, pass_threshold=0.6)
    assert (result.review_count, result.score, result.is_accepted) == (2, 1.0, False)
    # Three: mean (1 + 0.5 + 0.3) / 3 = 0.6, exactly the threshold: accepted.
    result = gate_decide([(1.0, 1.0), (0.5, 1.0), (0.3, 1.0)], reviews_needed=3, pass_threshold=0.6)
    assert result.is_accepted and result.score == pytest.approx(0.6)
    # Mean (1 + 0.5 + 0.25) / 3 = 0.5833 < 0.6: not accepted.
    assert not gate_decide([(1.0, 1.0), (0.5, 1.0), (0.25, 1.0)], reviews_needed=3, pass_threshold=0.6).is_accepted
    # A weight of 0 does not count at all; a weight of 0.5 halves the review's pull:
    # (1*1 + 1*1 + 0*0.5) / 2.5 = 0.8 with 3 reviews counted.
    assert gate_decide([(1.0, 1), (1.0, 1), (0.0, 0)], reviews_needed=3, pass_threshold=0.6).review_count == 2
    result = gate_decide([(1.0, 1), (1.0, 1), (0.0, 0.5)], reviews_needed=3, pass_threshold=0.6)
    assert result.score == pytest.approx(0.8) and result.is_accepted
    assert gate_decide([], reviews_needed=1, pass_threshold=0.0) == gate_decide([], reviews_needed=3, pass_threshold=1)
    assert reviews_weighted([(7, 0.5), (8, 1.0)], {7: 0.0}) == [(0.5, 0.0), (1.0, 1.0)]


def test_gold_accuracy():
    # ann: 3 of 4 right; bob: 0 of 2.
    outcomes = [("ann", True), ("ann", True), ("bob", False), ("ann", False), ("ann", True), ("bob", False)]
    assert trust.gold_accuracy(outcomes) == {"ann": trust.Measure(0.75, 4), "bob": trust.Measure(0.0, 2)}


def test_rating_agreement():
    # Own 5; others 4 and 1, mean 2.5: 1 - |5 - 2.5| / 4 = 0.375 on "help".
    # On "truth": own 2, others 2 and 4, mean 3: 1 - 1/4 = 0.75. Item: (0.375 + 0.75) / 2 = 0.5625.
    own = {"help": 5, "truth": 2}
    others = [{"help": 4, "truth": 2}, {"help": 1, "truth": 4}]
    assert trust.rating_agreement(own, others) == pytest.approx(0.5625)
    # A scale only one other rated does not count.
    assert trust.rating_agreement({"help": 5}, [{"help": 4}, {"truth": 1}]) is None


def test_flag_agreement():
    # Others: [spam], [spam, toxic], []: spam 2 of 3 (majority yes), toxic 1 of 3 (majority no).
    others = [["spam"], ["spam", "toxic"], []]
    assert trust.flag_agreement(["spam"], others) == 1.0
    assert trust.flag_agreement([], others) == 0.0  # misses the spam majority
    assert trust.flag_agreement(["spam", "toxic"], others) == 0.0  # toxic against the majority
    # Two others split 1-1 on spam: that label says nothing either way.
    assert trust.flag_agreement(["spam"], [["spam"], []]) == 1.0
    assert trust.flag_agreement([], [["spam"], []]) == 1.0
    assert trust.flag_agreement([], [[]]) is None


def test_ranking_agreement():
    # Answers 1, 2, 3. Others: [1][2][3] and [2][1][3]: mean places 1 -> 1.5, 2 -> 1.5, 3 -> 3.
    # Pairs the consensus orders strictly: (1,3) and (2,3); (1,2) is tied and left out.
    # Own [3][1][2]: puts 3 before 1 and before 2: both pairs against: 0.
    # Own [1, 2][3] (1 and 2 tied): both pairs with: 1.
    # Own [1][3][2]: (1,3) with, (2,3) against: 0.5.
    others = [[[1], [2], [3]], [[2], [1], [3]]]
    assert trust.ranking_agreement([[3], [1], [2]], others) == 0.0
    assert trust.ranking_agreement([[1, 2], [3]], others) == 1.0
    assert trust.ranking_agreement([[1], [3], [2]], others) == 0.5
    assert trust.ranking_agreement([[1, 2, 3]], others) is None


def test_claims_agreement():
    # Claim 10: others true, true, false -> true. Claim 11: others false, true -> tie, left out.
    # Claim 12: others unverifiable, unverifiable -> unverifiable.
    # Own: 10 true (match), 11 false (not counted), 12 true (miss): 1 of 2 = 0.5.
    others = [
        {10: "true", 11: "false", 12: "unverifiable"},
        {10: "true", 11: "true", 12: "unverifiable"},
        {10: "false"},
    ]
    assert trust.claims_agreement({10: "true", 11: "false", 12: "true"}, others) == 0.5


def test_consensus_agreement_over_items():
    # Item 1 (flag): a [], b [], c [spam], d []. spam is chosen by 1 of the 3 others of a, b, d
    # (majority no: they agree, 1.0) and by 0 of c's others (c disagrees, 0.0).
    # Item 2 (rate, one scale): a 5, b 4, c 1.
    #   a: others 4, 1 -> mean 2.5 -> 1 - 2.5/4 = 0.375
    #   b: others 5, 1 -> mean 3   -> 1 - 1/4   = 0.75
    #   c: others 5, 4 -> mean 4.5 -> 1 - 3.5/4 = 0.125
    # Item 3 (rate): only two responses: nobody has two others, it does not count.
    # Item 4 (correct): no consensus for written answers.
    # a: (1 + 0.375) / 2 = 0.6875; b: (1 + 0.75) / 2 = 0.875; c: (0 + 0.125) / 2 = 0.0625; d: 1 over 1 item.
    rows = [
        (1, "flag", "a", []),
        (1, "flag", "b", []),
        (1, "flag", "c", ["spam"]),
        (1, "flag", "d", []),
        (2, "rate", "a", {"help": 5}),
        (2, "rate", "b", {"help": 4}),
        (2, "rate", "c", {"help": 1}),
        (3, "rate", "a", {"help": 1}),
        (3, "rate", "e", {"help": 5}),
        (4, "correct", "a", "text"),
        (4, "correct", "b", "text"),
        (4, "correct", "c", "text"),
    ]
    result = trust.consensus_agreement(rows)
    assert result == {
        "a": trust.Measure(pytest.approx(0.6875), 2),
        "b": trust.Measure(pytest.approx(0.875), 2),
        "c": trust.Measure(pytest.approx(0.0625), 2),
        "d": trust.Measure(1.0, 1),
    }


def test_outlier_scores():
    # B is rated 400 points above A, so P(B beats A) = 1 / (1 + 10^-1) = 10/11 and P(A beats B) = 1/11.
    # ann votes B twice: mean ln(10/11). bob votes A twice: mean ln(1/11). cat ties twice:
    # mean 0.5 ln(1/11) + 0.5 ln(10/11). With 2 votes needed, the median of the three means is cat's.
    # ann: median - mean = 0.5 ln(1/11) - 0.5 ln(10/11) = -0.5 ln 10 (more typical than typical)
    # bob: 0.5 ln(10/11) - 0.5 ln(1/11) = +0.5 ln 10 = 1.1513 (an outlier); cat: 0.
    # dan has one vote (for B, from the b side): scored against the same median, not part of it.
    # A vote naming an unrated model is skipped.
    ratings = {"A": 1000.0, "B": 1400.0}
    votes = [
        ("ann", "A", "B", "model_b"),
        ("ann", "B", "A", "model_a"),
        ("bob", "A", "B", "model_a"),
        ("bob", "B", "A", "model_b"),
        ("cat", "A", "B", "tie"),
        ("cat", "B", "A", "tie (bothbad)"),
        ("dan", "A", "B", "model_b"),
        ("ann", "A", "Z", "model_a"),
    ]
    scores = trust.outlier_scores(votes, ratings, min_votes=2)
    half_ln10 = 0.5 * math.log(10)
    assert scores["ann"].votes == 2
    assert scores["ann"].mean_log_likelihood == pytest.approx(math.log(10 / 11))
    assert scores["ann"].score == pytest.approx(-half_ln10)
    assert scores["bob"].score == pytest.approx(half_ln10)
    assert scores["cat"].score == pytest.approx(0.0, abs=1e-12)
    assert scores["dan"].votes == 1 and scores["dan"].score == pytest.approx(-half_ln10)
    # Nobody with 3 votes: no typical judge, no score.
    assert all(score.score is None for score in trust.outlier_scores(votes, ratings, min_votes=3).values())
    with pytest.raises(ValueError):
        trust.vote_log_likelihood(1000, 1000, "nobody")
