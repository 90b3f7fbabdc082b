"""What ``import jupyter_think`` costs: wall time of a fresh interpreter importing it, against a bare one.

Run: ``python benchmarks/bench_import.py [--runs 20] [--tiny]`` (``--tiny``: 2 runs). Prints the median and the best of the
import alone (``python -X importtime``'s cumulative figure for ``jupyter_think``), and of pydantic
alone for comparison (the floor: the models are pydantic). Target: under 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys


def import_time(module: str) -> float:
    """Milliseconds ``python -X importtime`` reports for importing ``module`` (cumulative)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in reversed(done.stderr.splitlines()):
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no import time for {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tiny", action="store_true", help="2 runs each: a smoke run")
    args = parser.parse_args()
    if args.tiny:
        args.runs = 2
    for module in ("pydantic", "jupyter_think"):
        times = [import_time(module) for _ in range(args.runs)]
        print(f"import {module:<14} median {statistics.median(times):6.1f} ms   best {min(times):6.1f} ms")
    print("target: jupyter_think under 100 ms (pydantic alone is the floor)")


if __name__ == "__main__":
    main()
