"""Experiments: runs in parallel, their results, comparisons and diffs."""
