"""pass@k, pass^k, means, standard errors and the baseline's intervals, checked against answers known by hand
and against brute force (issue 22).

The estimators are checked on hand-built outcomes and against an enumeration of every k-subset of n runs;
``compare(runs, by="variant")`` is checked on run results whose answers are worked out here.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from jupyter_think import Session, compare
from jupyter_think.experiments.results import RunResult
from jupyter_think.experiments.stats import (
    _binomial_cdf,
    _resampled_means,
    bootstrap_difference,
    mean_se,
    newcombe,
    pass_at_k,
    pass_hat_k,
    proportion_se,
    wilson,
)
from jupyter_think.experiments.tool import Usage


def test_known_answers_for_four_runs_three_passing() -> None:
    assert pass_at_k(4, 3, 2) == 1.0  # any two of four hold at least one of the three passes
    assert pass_hat_k(4, 3, 2) == 0.5  # C(3,2) / C(4,2) = 3 / 6
    assert pass_at_k(4, 3, 1) == pass_hat_k(4, 3, 1) == 0.75
    assert pass_at_k(4, 0, 4) == 0.0 and pass_hat_k(4, 4, 4) == 1.0


def test_k_larger_than_the_runs_has_no_estimate() -> None:
    assert pass_at_k(3, 2, 4) is None and pass_hat_k(3, 2, 4) is None
    assert pass_at_k(0, 0, 1) is None


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, -1, 1), (3, 1, 0)])
def test_impossible_counts_are_refused(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= c <= n and k >= 1"):
        pass_at_k(n, c, k)


def test_the_estimators_equal_brute_force_over_every_subset() -> None:
    rng = random.Random(22)
    for _ in range(60):
        n = rng.randint(1, 9)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        runs = [True] * c + [False] * (n - c)
        subsets = list(itertools.combinations(runs, k))
        any_pass = sum(any(s) for s in subsets) / len(subsets)
        all_pass = sum(all(s) for s in subsets) / len(subsets)
        assert pass_at_k(n, c, k) == pytest.approx(any_pass, abs=1e-12), (n, c, k)
        assert pass_hat_k(n, c, k) == pytest.approx(all_pass, abs=1e-12), (n, c, k)


def test_mean_and_standard_error() -> None:
    assert mean_se([1.0, 0.0, 1.0, 1.0]) == (0.75, 0.25)  # sd = 0.5, / sqrt(4)
    assert mean_se([2.0]) == (2.0, None) and mean_se([]) == (None, None)
    assert proportion_se(4, 3) == pytest.approx(math.sqrt(0.75 * 0.25 / 4))


def test_wilson_and_newcombe_match_the_published_values() -> None:
    assert [round(x, 4) for x in wilson(10, 8)] == [0.4902, 0.9433]
    assert [round(x, 4) for x in newcombe(70, 56, 80, 48)] == [0.2, 0.0524, 0.3339]  # Newcombe 1998, example


def test_the_bootstrap_is_the_same_every_time_and_holds_the_difference() -> None:
    first, second = [0.9, 1.0, 0.8, 0.7, 1.0], [0.5, 0.4, 0.6, 0.3, 0.5]
    once = bootstrap_difference(first, second)
    assert once == bootstrap_difference(first, second)
    difference, low, high = once
    assert difference == pytest.approx(0.42) and low < difference < high


def test_pass_fail_scores_are_resampled_through_the_binomial_distribution_exactly() -> None:
    n, c = 7, 3
    expected = [
        sum(math.comb(n, j) * (c / n) ** j * (1 - c / n) ** (n - j) for j in range(k + 1))
        for k in range(n + 1)
    ]
    assert _binomial_cdf(n, c / n) == pytest.approx(expected, abs=1e-12)
    scores = [1.0] * 60 + [0.0] * 140  # resampling 200 pass/fail scores: the means' spread is the binomial's
    means = _resampled_means(scores, 4000, random.Random(5))
    assert statistics.fmean(means) == pytest.approx(0.3, abs=0.005)
    assert statistics.stdev(means) == pytest.approx(math.sqrt(0.3 * 0.7 / 200), rel=0.06)
    assert set(_resampled_means([1.0] * 5, 3, random.Random(0))) == {1.0}
    difference, low, high = bootstrap_difference(scores, [1.0] * 100 + [0.0] * 100)
    assert difference == pytest.approx(-0.2) and -0.32 < low < difference < high < -0.08


# --- compare(runs, by="variant") -------------------------------------------------------------------------------


def run(
    number: int, variant: str, repeat: int, status: str, score: object, thoughts: int = 2, **more: object
) -> RunResult:
    session = Session(f"known-{variant}-{repeat}")
    for n in range(1, thoughts + 1):
        session.think(f"step {n}", total=thoughts)
    if more.pop("branched", False):
        session.branch("alt", from_thought=1)
        session.think("another way")
    return RunResult(
        number, session.id, None, status, session=session, variant=variant, repeat=repeat, score=score, **more
    )  # type: ignore[arg-type]


def known_runs() -> list[RunResult]:
    usage = Usage(input_tokens=100, output_tokens=20, model_calls=2, cost=0.5)
    return [
        # variant a: 4 runs, 3 pass (True, 1.0, 0.9 >= 0.8), one that errored (its True score does not count)
        run(1, "a", 1, "ok", True, usage=usage),
        run(2, "a", 2, "ok", 1.0, usage=usage),
        run(3, "a", 3, "ok", 0.9, usage=usage, branched=True),
        run(4, "a", 4, "error", True, usage=usage),
        # variant b: 4 runs, 1 pass; a timeout and an unscored run fail
        run(5, "b", 1, "ok", 0.85, thoughts=4),
        run(6, "b", 2, "ok", 0.5, thoughts=4),
        run(7, "b", 3, "timeout", None, thoughts=1),
        run(8, "b", 4, "ok", None, thoughts=3),
    ]


def test_a_row_per_variant_with_pass_rates_scores_usage_and_shape() -> None:
    rows = compare(known_runs(), by="variant", k=2, pass_threshold=0.8, dataframe=False)
    a, b = rows
    assert [r["variant"] for r in rows] == ["a", "b"]
    assert (a["runs"], a["errors"], b["errors"]) == (4, 1, 1)
    assert (a["pass@1"], a["pass@2"], a["pass^2"]) == (0.75, 1.0, 0.5)
    assert (b["pass@1"], b["pass@2"], b["pass^2"]) == (0.25, 0.5, 0.0)
    assert a["score_mean"] == pytest.approx((1 + 1 + 0.9 + 1) / 4)  # every scored run, the errored one too
    assert b["score_mean"] == pytest.approx(0.675) and b["score_se"] == pytest.approx(0.175)
    assert (a["input_tokens"], a["output_tokens"], a["cost"]) == (100, 20, 0.5)
    assert b["cost"] is None  # no run of b knew a price
    assert (a["thoughts"], a["branch_rate"], b["thoughts"]) == (2.25, 0.25, 3.0)


def test_the_baseline_difference_carries_a_newcombe_interval() -> None:
    rows = compare(known_runs(), by="variant", k=2, baseline="a", pass_threshold=0.8, dataframe=False)
    a, b = rows
    assert a["pass@1_diff"] is None and a["score_diff"] is None  # the baseline itself
    assert (b["pass@1_diff"], b["pass@1_low"], b["pass@1_high"]) == pytest.approx(newcombe(4, 1, 4, 3))
    assert b["score_diff"] == pytest.approx(0.675 - 0.975)
    assert b["score_low"] <= b["score_diff"] <= b["score_high"]


def test_k_defaults_to_the_largest_repeat_and_bad_arguments_say_what_to_give() -> None:
    frame = compare(known_runs(), by="variant")
    assert list(frame.columns[:9]) == [
        "variant", "runs", "errors", "score_mean", "score_se", "pass@1", "pass@1_se", "pass@4", "pass^4",
    ]  # fmt: skip
    assert list(frame["variant"]) == ["a", "b"]  # a column, not the index
    with pytest.raises(ValueError, match="no variant 'c' to compare with; the variants are a, b"):
        compare(known_runs(), by="variant", baseline="c")
    with pytest.raises(ValueError, match="k must be a whole number >= 1"):
        compare(known_runs(), by="variant", k=0)
    with pytest.raises(ValueError, match="by must be None"):
        compare(known_runs(), by="model")
    with pytest.raises(ValueError, match="needs the runs of an experiment"):
        compare([Session("plain")], by="variant")


def test_a_row_per_run_without_pandas_shows_no_times() -> None:
    rows = compare(known_runs(), dataframe=False)
    assert [r["session"] for r in rows][:2] == ["known-a-1", "known-a-2"]
    assert rows[3]["status"] == "error" and rows[2]["branches"] == 1
    assert "seconds" not in repr(rows).splitlines()[0] and "seconds" in rows.columns
