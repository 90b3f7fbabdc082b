"""The numbers of repeated runs: pass@k and pass^k, means and standard errors, 95% intervals of differences.

Every estimator here is exact arithmetic over the runs given; nothing samples but the bootstrap, which
uses a fixed seed, so the same runs give the same numbers every time (a notebook under nbval).

- :func:`pass_at_k` and :func:`pass_hat_k` are the unbiased estimators over ``n`` runs with ``c``
  passes (Chen et al. 2021 for pass@k; pass^k, "every one of k tries passes", as τ-bench defines
  it): ``1 - C(n-c, k) / C(n, k)`` and ``C(c, k) / C(n, k)``; ``None`` when ``k > n``.
- :func:`mean_se`: the mean and its standard error (sample standard deviation / √n).
- :func:`wilson` is the Wilson score interval of a proportion; :func:`newcombe` the interval of the
  difference of two independent proportions built from them (Newcombe 1998, method 10).
- :func:`bootstrap_difference`: the percentile bootstrap interval of a difference of means
  (:data:`BOOTSTRAP_RESAMPLES` resamples, seed :data:`BOOTSTRAP_SEED`; a side of pass/fail scores is
  resampled through the binomial distribution, one draw per resample).

The normal quantile comes from :class:`statistics.NormalDist` (standard library): no numpy or scipy
is needed.

Example:
    >>> pass_at_k(4, 3, 2), pass_hat_k(4, 3, 2), pass_at_k(4, 3, 5)
    (1.0, 0.5, None)
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from statistics import NormalDist

CONFIDENCE = 0.95
Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
"""The two-sided 95% normal quantile (1.959963984540054)."""
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def _check(n: int, c: int, k: int) -> None:
    if not (0 <= c <= n) or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """The chance that at least one of ``k`` runs drawn from the ``n`` (``c`` of them passing) passes.

    Example:
        >>> pass_at_k(5, 1, 1), pass_at_k(5, 0, 3), pass_at_k(5, 3, 3)
        (0.2, 0.0, 1.0)
    """
    _check(n, c, k)
    if k > n:
        return None
    total = math.comb(n, k)
    return (total - math.comb(n - c, k)) / total


def pass_hat_k(n: int, c: int, k: int) -> float | None:
    """The chance that all ``k`` runs drawn from the ``n`` (``c`` of them passing) pass (pass^k).

    Example:
        >>> pass_hat_k(5, 5, 3), pass_hat_k(5, 2, 3), pass_hat_k(2, 2, 3)
        (1.0, 0.0, None)
    """
    _check(n, c, k)
    if k > n:
        return None
    return math.comb(c, k) / math.comb(n, k)


def mean_se(values: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean, standard error of the mean); ``None`` for what needs more values (a mean one, an error two).

    Example:
        >>> mean_se([1.0, 0.0, 1.0, 1.0])
        (0.75, 0.25)
        >>> mean_se([]), mean_se([2.0])
        ((None, None), (2.0, None))
    """
    n = len(values)
    if n == 0:
        return None, None
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    variance = math.fsum((value - mean) ** 2 for value in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def proportion_se(n: int, c: int) -> float | None:
    """The standard error of the pass rate ``c / n``: √(p(1 - p)/n) (``None`` for no runs).

    Example:
        >>> proportion_se(4, 2)
        0.25
    """
    if n == 0:
        return None
    p = c / n
    return math.sqrt(p * (1 - p) / n)


def wilson(n: int, c: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``c / n`` (``(0, 1)`` for no runs).

    Example:
        >>> [round(bound, 4) for bound in wilson(10, 8)]
        [0.4902, 0.9433]
    """
    if n == 0:
        return 0.0, 1.0
    p = c / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(n1: int, c1: int, n2: int, c2: int, z: float = Z) -> tuple[float, float, float]:
    """(difference, low, high): ``c1/n1 - c2/n2`` with Newcombe's hybrid score interval (method 10).

    Example:
        >>> [round(value, 4) for value in newcombe(70, 56, 80, 48)]  # Newcombe's own example
        [0.2, 0.0524, 0.3339]
    """
    if n1 == 0 or n2 == 0:
        raise ValueError("a difference of pass rates needs runs on both sides")
    p1, p2 = c1 / n1, c2 / n2
    low1, high1 = wilson(n1, c1, z)
    low2, high2 = wilson(n2, c2, z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - low1) ** 2 + (high2 - p2) ** 2)
    high = difference + math.sqrt((high1 - p1) ** 2 + (p2 - low2) ** 2)
    return difference, max(-1.0, low), min(1.0, high)


def bootstrap_difference(
    first: Sequence[float],
    second: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """(difference of means, low, high): the 95% percentile bootstrap of ``mean(first) - mean(second)``.

    Each side is resampled with replacement on its own, ``resamples`` times, from a
    ``random.Random(seed)``: the same values always give the same interval. A side of two values only
    (pass/fail scores) is resampled by drawing how many of its ``n`` values are the higher one from the
    binomial distribution (what resampling ``n`` values with replacement gives, exactly), one draw per
    resample rather than ``n``: 1 000 scored runs compare in well under a second.

    Example:
        >>> difference, low, high = bootstrap_difference([1.0, 0.9, 0.8, 1.0], [0.5, 0.4, 0.6, 0.5])
        >>> round(difference, 3), low < difference < high
        (0.425, True)
        >>> bootstrap_difference([1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0])[0]
        0.5
    """
    if not first or not second:
        raise ValueError("a difference of means needs values on both sides")
    rng = random.Random(seed)
    pairs = zip(
        _resampled_means(first, resamples, rng), _resampled_means(second, resamples, rng), strict=True
    )
    draws = sorted(a - b for a, b in pairs)
    tail = (1 - CONFIDENCE) / 2
    low = draws[math.floor(tail * (resamples - 1))]
    high = draws[math.ceil((1 - tail) * (resamples - 1))]
    return math.fsum(first) / len(first) - math.fsum(second) / len(second), low, high


def _resampled_means(values: Sequence[float], resamples: int, rng: random.Random) -> list[float]:
    """The means of ``resamples`` resamples of ``values`` with replacement (see :func:`bootstrap_difference`)."""
    n = len(values)
    distinct = sorted(set(values))
    if len(distinct) == 1:
        return [float(distinct[0])] * resamples
    if len(distinct) == 2:
        low, high = distinct
        cdf = _binomial_cdf(n, sum(1 for value in values if value == high) / n)
        counts = (min(bisect.bisect_left(cdf, rng.random()), n) for _ in range(resamples))
        return [(low * (n - k) + high * k) / n for k in counts]
    return [math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples)]


def _binomial_cdf(n: int, p: float) -> list[float]:
    """P(K <= k) for k = 0..n, K ~ Binomial(n, p), 0 < p < 1 (in logs: no underflow for large n)."""
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    total, cdf = 0.0, []
    for k in range(n + 1):
        total += math.exp(log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q)
        cdf.append(total)
    return cdf
