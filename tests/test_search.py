"""``manager.search``: ranked matches with a snippet, over the store's own full-text index (both engines)
and over sessions in memory; bad limits and queries too long are refused in the magic and the CLI
(that every engine answers alike is test_search_conformance.py)."""

from __future__ import annotations

import pytest

from jupyter_think import SessionManager


def test_search_finds_words_in_thoughts_and_branch_thoughts_just_written(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        run = manager.session("run-1")
        run.think("Plan: read the config file once", total=3)
        run.branch("cache", from_thought=1)
        run.think("Cache the parsed config between calls")
        manager.session("run-2").think("Nothing to see")
        hits = manager.search("config")  # not flushed by hand: search commits what is pending first
        assert sorted((hit.session_id, hit.thought_number) for hit in hits) == [("run-1", 1), ("run-1", 2)]
        assert all("[config]" in hit.snippet for hit in hits)
        assert [hit.thought_number for hit in manager.search("parsed config")] == [2]
        assert manager.search("config", sessions=["run-2"]) == []


def test_search_reaches_sessions_not_loaded_here(store_location: str) -> None:
    with SessionManager(store=store_location) as writer:
        writer.session("elsewhere").think("A remark about latency budgets")
    with SessionManager(store=store_location) as reader:
        (hit,) = reader.search("latency")
        assert (hit.session_id, hit.thought_number) == ("elsewhere", 1)
        assert not reader.is_loaded("elsewhere")


def test_search_with_an_invalid_session_id_is_refused_before_the_store_is_asked() -> None:
    with SessionManager(persist=False) as manager, pytest.raises(ValueError, match="invalid session id"):
        manager.search("x", sessions=["../etc"])


def test_search_without_a_store_looks_through_the_sessions_in_memory() -> None:
    with SessionManager(persist=False) as manager:
        manager.session("a").think("Serializer first, cache second")
        manager.session("b").think("Cache cache cache")
        assert [hit.session_id for hit in manager.search("cache")] == ["b", "a"]
        assert manager.search("serializer")[0].snippet == "[Serializer] first, cache second"
        assert manager.search("") == []


def test_session_search_magic_lists_matches_best_first_with_snippets(make_kernel) -> None:
    kernel = make_kernel()
    setup = (
        "%load_ext jupyter_think\n%session notes\n%think -q Measure the cache hit rate\n"
        "%session other\n%think -q The serializer dominates; the cache is fine\n%think -q Unrelated"
    )
    assert kernel.execute(setup).ok
    result = kernel.execute("%session --search cache")
    assert result.ok, result
    lines = result.plain.splitlines()
    assert lines[0] == 'Search "cache" · 2 matches'
    assert sorted(line.split()[0] for line in lines[1:]) == ["notes", "other"]
    assert "<mark>cache</mark>" in result.html
    none = kernel.execute("%session --search zebra")
    assert none.plain == 'Search "zebra" · 0 matches'
    bad = kernel.execute("%session notes --search cache")
    assert bad.ename == "UsageError" and "--search takes no session ID" in bad.evalue
    one = kernel.execute("%session --search cache --limit 1")
    assert one.ok and one.plain.splitlines()[0] == 'Search "cache" · 1 match'
    for line, says in (
        ("%session --search cache --limit 0", "whole number from 1 to 1000"),
        ("%session --search cache --limit -1", "whole number from 1 to 1000"),
        ("%session --list --limit 3", "--limit goes with --search"),
        ("%session --search " + "w" * 1200, "search for fewer words"),
    ):
        refused = kernel.execute(line)
        assert refused.ename == "UsageError" and says in refused.evalue, (line, refused)


def test_jupyter_think_search_prints_matches_and_refuses_a_bad_session_id(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    store = str(tmp_path / "store")
    with SessionManager(store) as manager:
        manager.session("notes").think("Measure the cache hit rate")
        manager.session("other").think("Caching \x1b[31mred\x1b[0m text")
    script = str(Path(sys.executable).parent / "jupyter-think")
    done = subprocess.run(
        [script, "--dir", store, "search", "cache"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith('Search "cache" · ')
    assert "notes" in done.stdout and "\x1b" not in done.stdout, "control characters are shown escaped"
    only = subprocess.run(
        [script, "--dir", store, "search", "cache", "--session", "notes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "other" not in only.stdout and "notes" in only.stdout
    bad = subprocess.run(
        [script, "--dir", store, "search", "x", "-s", "../etc"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "invalid session id" in bad.stderr
    for args, says in (
        (["cache", "--limit", "0"], "--limit must be a whole number from 1 to 1000, not 0"),
        (["cache", "--limit", "1001"], "--limit must be a whole number from 1 to 1000"),
        (["q" * 12_000], "search for fewer words"),
    ):
        refused = subprocess.run(
            [script, "--dir", store, "search", *args], capture_output=True, text=True, timeout=60
        )
        assert refused.returncode == 2 and says in refused.stderr and refused.stderr.count("\n") == 1, (
            refused.stderr
        )
