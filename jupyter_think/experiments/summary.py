"""The rows of ``compare`` for runs: one per run, or one per variant with pass@k, scores, usage and shape.

Per variant (in the order the variants first appear): how many runs and how many did not end ``ok``,
the mean score and its standard error (over the runs that have a score), pass@1 with its standard
error, pass@k and pass^k (:mod:`.stats`; every run counts, a run that errored, timed out or has no
score fails), the mean tokens, cost and seconds per run, and the shape of the reasoning: mean
thoughts, the share of runs that branched (``branch_rate``), the share that revised
(``revision_rate``) and retractions per run. With a ``baseline`` variant each other variant gets its
difference from it with a 95% interval: pass@1 by Newcombe's hybrid score interval, the mean score by
a percentile bootstrap with a fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from jupyter_think.experiments import stats
from jupyter_think.experiments.counts import Counts, session_counts
from jupyter_think.experiments.results import RunResult

RUN_COLUMNS = (
    *("run", "variant", "repeat", "session", "status", "score", "thoughts", "branches", "revisions"),
    *("retractions", "input_tokens", "output_tokens", "cost", "seconds", "result"),
)
"""The columns of ``compare(runs)``, one row per run."""
BASELINE_COLUMNS = ("pass@1_diff", "pass@1_low", "pass@1_high", "score_diff", "score_low", "score_high")


def _counts(result: RunResult) -> Counts:
    return session_counts(result.session) if result.session is not None else Counts()


def run_rows(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """One dict per run with :data:`RUN_COLUMNS` (``result``: the answer's first line, or the error)."""
    rows = []
    for result in results:
        counts = _counts(result)
        rows.append(
            {
                "run": result.run,
                "variant": result.variant,
                "repeat": result.repeat,
                "session": result.session_id,
                "status": result.status,
                "score": result.score,
                **counts.as_dict(),
                "input_tokens": result.usage.input_tokens,
                "output_tokens": result.usage.output_tokens,
                "cost": result.usage.cost,
                "seconds": result.duration,
                "result": result.answer or None,
            }
        )
    return rows


def variant_columns(k: int, baseline: str | None) -> list[str]:
    """The columns of ``compare(runs, by="variant")`` for ``k`` (pass@k and pass^k) and a baseline."""
    passes = list(dict.fromkeys(["pass@1", "pass@1_se", f"pass@{k}", f"pass^{k}"]))
    columns = [
        *("variant", "runs", "errors", "score_mean", "score_se", *passes),
        *("input_tokens", "output_tokens", "cost", "seconds"),
        *("thoughts", "branch_rate", "revision_rate", "retractions"),
    ]
    return columns + list(BASELINE_COLUMNS) if baseline is not None else columns


def _mean(values: Sequence[float | int | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return math.fsum(present) / len(present) if present else None


def _scores(results: Sequence[RunResult]) -> list[float]:
    return [float(r.score) for r in results if r.score is not None]


def variant_rows(
    results: Sequence[RunResult], k: int, baseline: str | None = None, pass_threshold: float = 1.0
) -> list[dict[str, Any]]:
    """One dict per variant (see the module docstring), in the order the variants first appear."""
    groups: dict[str, list[RunResult]] = {}
    for result in results:
        groups.setdefault(result.variant, []).append(result)
    if baseline is not None and baseline not in groups:
        raise ValueError(
            f"no variant {baseline!r} to compare with; the variants are {', '.join(groups) or 'none'}"
        )
    rows = []
    for variant, group in groups.items():
        n = len(group)
        passed = sum(r.passed(pass_threshold) for r in group)
        counts = [_counts(r) for r in group]
        mean, se = stats.mean_se(_scores(group))
        row: dict[str, Any] = {
            "variant": variant,
            "runs": n,
            "errors": sum(r.status != "ok" for r in group),
            "score_mean": mean,
            "score_se": se,
            "pass@1": passed / n,
            "pass@1_se": stats.proportion_se(n, passed),
            f"pass@{k}": stats.pass_at_k(n, passed, k),
            f"pass^{k}": stats.pass_hat_k(n, passed, k),
            "input_tokens": _mean([r.usage.input_tokens for r in group]),
            "output_tokens": _mean([r.usage.output_tokens for r in group]),
            "cost": _mean([r.usage.cost for r in group]),
            "seconds": _mean([r.duration for r in group]),
            "thoughts": _mean([c.thoughts for c in counts]),
            "branch_rate": sum(c.branches > 0 for c in counts) / n,
            "revision_rate": sum(c.revisions > 0 for c in counts) / n,
            "retractions": _mean([c.retractions for c in counts]),
        }
        rows.append(row)
    if baseline is not None:
        _add_baseline(rows, groups, baseline, pass_threshold)
    return rows


def _add_baseline(
    rows: list[dict[str, Any]], groups: dict[str, list[RunResult]], baseline: str, pass_threshold: float
) -> None:
    """Each row's difference from the baseline's, with its 95% interval (the baseline's own row: none)."""
    reference = groups[baseline]
    n0, c0 = len(reference), sum(r.passed(pass_threshold) for r in reference)
    scores0 = _scores(reference)
    for row in rows:
        row.update(dict.fromkeys(BASELINE_COLUMNS))
        if row["variant"] == baseline:
            continue
        group = groups[row["variant"]]
        row["pass@1_diff"], row["pass@1_low"], row["pass@1_high"] = stats.newcombe(
            len(group), sum(r.passed(pass_threshold) for r in group), n0, c0
        )
        scores = _scores(group)
        if scores and scores0:
            row["score_diff"], row["score_low"], row["score_high"] = stats.bootstrap_difference(
                scores, scores0
            )
