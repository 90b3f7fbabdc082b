"""``manager.search``: ranked matches with a snippet, over the store's own full-text index (both engines)
and over sessions in memory."""

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
