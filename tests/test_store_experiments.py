"""The conformance suite of stored experiments (``store.experiments``): each test runs on SQLite and on a real
PostgreSQL server, as ``test_store_conformance.py`` does for sessions.

Both engines keep an experiment and its runs exactly, replace it whole when it is saved again, list
it with its runs counted by status, say which experiment holds a session, forget it on request, and
refuse bad names and payloads before the engine is touched.
"""

from __future__ import annotations

import json

import pytest

from jupyter_think.store import open_store
from jupyter_think.store.experiments import StoredRun

PAYLOAD = json.dumps(
    {"repeat": 2, "variants": ["a", "b"], "note": "caf\u00e9 \u2014 \udc80"}, ensure_ascii=True
)


def runs(name: str, statuses: list[str]) -> list[StoredRun]:
    return [
        StoredRun(
            k,
            f"{name}-{k}",
            "a" if k <= 2 else "b",
            1 + (k - 1) % 2,
            status,
            json.dumps({"value": {"json": [k]}}),
        )
        for k, status in enumerate(statuses, start=1)
    ]


def test_an_experiment_and_its_runs_round_trip_exactly(store_location: str) -> None:
    store = open_store(store_location)
    saved = runs("exp", ["ok", "error", "timeout", "cancelled"])
    store.experiments.save("exp", PAYLOAD, saved)
    again = open_store(store_location).experiments.load("exp")
    assert again is not None
    assert (again.name, again.ref, again.payload, again.runs) == ("exp", "exp", PAYLOAD, tuple(saved))
    assert json.loads(again.payload)["note"] == "caf\u00e9 \u2014 \udc80"  # escapes read back as they were
    assert store.experiments.load("missing") is None


def test_saving_again_replaces_the_experiment_whole(store_location: str) -> None:
    store = open_store(store_location)
    store.experiments.save("again", PAYLOAD, runs("again", ["ok", "ok", "ok"]))
    store.experiments.save("again", "{}", runs("again", ["error"]))
    loaded = store.experiments.load("again")
    assert loaded is not None and loaded.payload == "{}" and [r.status for r in loaded.runs] == ["error"]


def test_the_list_counts_runs_by_status_and_holding_names_the_experiment(store_location: str) -> None:
    store = open_store(store_location)
    store.experiments.save("ten-10", "{}", runs("ten-10", ["ok", "error", "ok"]))
    store.experiments.save("empty", "{}", [])
    listed = {e.name: e for e in store.experiments.list()}
    assert (listed["ten-10"].runs, listed["ten-10"].statuses) == (3, {"ok": 2, "error": 1})
    assert (listed["empty"].runs, listed["empty"].statuses) == (0, {})
    assert store.experiments.holding(["ten-10-2", "nobody", "ten-10-3"]) == {
        "ten-10-2": "ten-10",
        "ten-10-3": "ten-10",
    }
    assert store.experiments.holding([]) == {}


def test_forgetting_an_experiment_keeps_nothing_of_it(store_location: str) -> None:
    store = open_store(store_location)
    store.experiments.save("gone", "{}", runs("gone", ["ok"]))
    assert store.experiments.delete("gone") is True
    assert store.experiments.load("gone") is None and store.experiments.holding(["gone-1"]) == {}
    assert store.experiments.delete("gone") is False


@pytest.mark.parametrize(
    ("name", "payload", "stored", "message"),
    [
        ("../etc", "{}", [], "invalid experiment id"),
        ("ok", "not json", [], "Expecting value"),
        ("ok", '{"a": "\\u0000 is fine escaped", "b": "\x00"}', [], "ASCII JSON text"),
        ("ok", '{"a": "é"}', [], "ASCII JSON text"),
        ("ok", "{}", [StoredRun(0, "ok-1", "a", 1, "ok")], "run must be a whole number from 1"),
        ("ok", "{}", [StoredRun(1, "a/b", "a", 1, "ok")], "invalid session id"),
        ("ok", "{}", [StoredRun(1, "ok-1", "a", 1, "done")], "status is one of"),
        (
            "ok",
            "{}",
            [StoredRun(1, "ok-1", "a", 1, "ok"), StoredRun(1, "ok-2", "a", 2, "ok")],
            "its own number",
        ),
    ],
)
def test_bad_names_and_payloads_are_refused_before_the_engine(
    store_location: str, name: str, payload: str, stored: list[StoredRun], message: str
) -> None:
    store = open_store(store_location)
    with pytest.raises(ValueError, match=message):
        store.experiments.save(name, payload, stored)
    assert store.experiments.list() == []
    with pytest.raises(ValueError, match="invalid experiment name"):
        store.experiments.load("a/../b")
