"""Search answers the same in memory, on SQLite and on PostgreSQL: the same hits, order, snippets and
ranks for the same sessions, over ordinary and hostile queries (engine syntax, accents and case,
underscores, digits, a 12 000-character query, bad limits); and a store written at schema 2 is
migrated to 4 with its index rebuilt from the stored payloads."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jupyter_think import SessionManager
from jupyter_think.core.models import ThoughtAdded, ThoughtAmended
from jupyter_think.store import SessionWrite, open_store
from jupyter_think.store.base import SCHEMA_VERSION
from jupyter_think.store.search import MAX_LIMIT, MAX_QUERY_CHARS, MAX_QUERY_WORDS

LONG_WORD = "x" * 5000
SESSIONS: dict[str, list[str]] = {
    "plain": [
        "alpha beta gamma",
        "ÀLPHA in capitals, with an accent",
        "cache cache cache: the cache again",
        "Thinking is not the same word as think",
    ],
    "syntax": [
        "Use OR and AND, NOT near the NEAR operator",
        'a "quoted" phrase (with parentheses), a * star and a -n flag',
        "store_timeout and max_thought_chars are settings; 42 is a number, v2.0 a version",
    ],
    "unicode": [
        "Straße, naïve café and a ﬁnal ½ cup",
        "cafe\u0301 written with a combining accent, and 東京 タワー",
        "ΣΊΣΥΦΟΣ pushes the stone\nup\tthe hill",
    ],
    "long": [
        " ".join(["filler"] * 40 + ["needle", "in", "the", "haystack"] + ["filler"] * 40),
        f"{LONG_WORD} needle after a very long word",
        "needle " * 3 + "and more words after the three needles " * 5,
    ],
}
QUERIES = [
    "alpha", "ÀLPHA", "Alpha BETA", "alpha gamma beta", "capitals accent",
    "OR", "or", "AND", "NOT", "NEAR", "near operator", "or and not near", "OR AND NOT NEAR(x y)",
    "*", "alph*", '"quoted"', '"quoted phrase"', "(with", "parentheses)", "-n", "n", "-n flag", "NOT -n",
    "store_timeout", "STORE_TIMEOUT", "store", "timeout", "max_thought_chars", "42", "v2", "0", "v2.0",
    "strasse", "STRASSE", "straße", "naive", "NAÏVE", "cafe", "CAFÉ", "fin", "final", "1", "2",
    "東京", "σισυφος", "ΣΙΣΥΦΟΣ", "sisyphos",
    "think", "thinking", "thinks", "cache", "CACHE cache", "needle", "needle haystack", "filler needle",
    LONG_WORD[:150], LONG_WORD[:150] + "y", "x",
    "", "   ", "!!!", "nothing-matches-this-zebra", "the", "a",
]  # fmt: skip
BAD_LIMITS = [-1, 0, True, False, 10**9, MAX_LIMIT + 1, 1.5, "5", None]


def hits(found: list[Any]) -> list[tuple[str, int, int, str, float]]:
    return [(hit.session_id, hit.thought_number, hit.seq, hit.snippet, hit.score) for hit in found]


@pytest.fixture(scope="module")
def searchers(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same sessions in memory, in a SQLite store and in a PostgreSQL store (the stores unloaded)."""
    locations = {
        "sqlite": str(tmp_path_factory.mktemp("search") / "store"),
        "postgres": postgres_server.new_database(),
    }
    memory = SessionManager(persist=False, max_thought_chars=120_000)
    for manager in [memory, *(SessionManager(store=where) for where in locations.values())]:
        for session_id, thoughts in SESSIONS.items():
            session = manager.session(session_id)
            for text in thoughts:
                session.think(text)
        if manager is not memory:
            manager.close()
    return {"memory": memory, **{engine: open_store(where) for engine, where in locations.items()}}


def test_memory_sqlite_and_postgres_give_the_same_hits_order_snippets_and_ranks(
    searchers: dict[str, Any],
) -> None:
    for query in QUERIES:
        answers = {
            name: hits(searcher.search(query, limit=MAX_LIMIT)) for name, searcher in searchers.items()
        }
        assert answers["sqlite"] == answers["memory"], query
        assert answers["postgres"] == answers["memory"], query
        assert hits(searchers["postgres"].search(query, limit=2)) == answers["memory"][:2], query


def found(searchers: dict[str, Any], query: str) -> list[tuple[str, int]]:
    """(session, thought) of the hits, the same on every engine (checked above)."""
    return [(hit.session_id, hit.thought_number) for hit in searchers["postgres"].search(query)]


def test_accents_case_and_syntax_are_not_special_and_every_word_must_occur(searchers: dict[str, Any]) -> None:
    assert found(searchers, "ÀLPHA") == found(searchers, "alpha") == [("plain", 1), ("plain", 2)]
    assert found(searchers, "alpha beta") == [("plain", 1)]
    assert found(searchers, "OR") == found(searchers, "or") == [("syntax", 1)]
    assert found(searchers, "NOT") == [("plain", 4), ("syntax", 1)]  # "not" is a word, in two thoughts
    assert found(searchers, "near operator") == [("syntax", 1)]
    assert found(searchers, "*") == found(searchers, "!!!") == found(searchers, "") == []
    assert found(searchers, "alph*") == [], "no prefix syntax: alph is a word of its own"
    assert found(searchers, '"quoted phrase"') == found(searchers, "phrase quoted") == [("syntax", 2)]
    assert found(searchers, "-n") == found(searchers, "n") == [("syntax", 2)]
    assert found(searchers, "store_timeout") == found(searchers, "STORE_TIMEOUT") == [("syntax", 3)]
    assert found(searchers, "store") == [], "an underscore joins a word"
    assert found(searchers, "v2") == found(searchers, "42") == [("syntax", 3)]
    assert found(searchers, "STRASSE") == found(searchers, "straße") == [("unicode", 1)]
    assert found(searchers, "naive") == found(searchers, "NAÏVE") == [("unicode", 1)]
    assert found(searchers, "CAFÉ") == [("unicode", 1), ("unicode", 2)], (
        "composed and combining accents alike"
    )
    assert found(searchers, "final") == [("unicode", 1)], "the ﬁ ligature is f i"
    assert found(searchers, "ΣΙΣΥΦΟΣ") == found(searchers, "σισυφος") == [("unicode", 3)]
    assert found(searchers, "東京") == [("unicode", 2)]
    assert found(searchers, "thinking") == [("plain", 4)] and found(searchers, "thinks") == [], "no stemming"
    assert found(searchers, "needle") == [("long", 3), ("long", 1), ("long", 2)]  # by count, then by step


def test_snippets_mark_the_words_as_written_and_cut_long_thoughts(searchers: dict[str, Any]) -> None:
    def snippets(query: str) -> list[str]:
        return [hit.snippet for hit in searchers["sqlite"].search(query)]

    assert snippets("alpha") == ["[alpha] beta gamma", "[ÀLPHA] in capitals, with an accent"]
    assert snippets("cafe") == [
        "Straße, naïve [café] and a ﬁnal ½ cup",
        "[cafe\u0301] written with a combining accent, and 東京 タワー",
    ]
    assert snippets("sisyphos") == []
    assert snippets("hill") == ["ΣΊΣΥΦΟΣ pushes the stone up the [hill]"], "whitespace is one space"
    (haystack,) = snippets("haystack")
    assert haystack.startswith("…") and haystack.endswith("…") and "[haystack]" in haystack
    assert len(haystack.split()) <= 25
    long_word = next(hit.snippet for hit in searchers["sqlite"].search("very long word"))
    assert long_word.startswith("x" * 100 + "…") and len(long_word) < 300


def test_a_long_word_is_found_by_its_first_hundred_characters_and_never_breaks_an_insert(
    searchers: dict[str, Any],
) -> None:
    assert found(searchers, LONG_WORD[:150]) == found(searchers, LONG_WORD[:100] + "y") == [("long", 2)]
    assert found(searchers, "x") == []


def test_a_query_too_long_is_refused_at_once_on_one_line_everywhere(searchers: dict[str, Any]) -> None:
    for query in ("cache " * 2000, "w" * 12_000, " ".join(["word"] * (MAX_QUERY_WORDS + 1))):
        for name, searcher in searchers.items():
            with pytest.raises(ValueError, match="search for fewer words") as refused:
                searcher.search(query)
            assert "\n" not in str(refused.value), name
    at_the_cap = " ".join(["cache"] * MAX_QUERY_WORDS)
    assert len(at_the_cap) <= MAX_QUERY_CHARS
    assert found(searchers, at_the_cap) == [("plain", 3)]


def test_a_limit_must_be_a_whole_number_from_one_to_the_maximum(searchers: dict[str, Any]) -> None:
    for limit in BAD_LIMITS:
        for searcher in searchers.values():
            with pytest.raises(ValueError, match=f"whole number from 1 to {MAX_LIMIT}"):
                searcher.search("cache", limit=limit)
    for name, searcher in searchers.items():
        assert len(searcher.search("a", limit=1)) == 1, name
        assert len(searcher.search("needle", limit=MAX_LIMIT)) == 3, name


def test_the_manager_refuses_a_bad_search_before_the_store_is_asked(tmp_path: Path) -> None:
    with SessionManager(tmp_path / "store") as manager:
        for bad in ({"limit": -1}, {"limit": True}, {"words": "q" * 12_000}):
            with pytest.raises(ValueError):
                manager.search(**{"words": "cache", **bad})
        assert manager.store is not None and manager.store.sessions() == []


# --- the migration from schema 2 -------------------------------------------------------------------------

OLD_SQLITE_INDEX = """
CREATE VIRTUAL TABLE thought_text USING fts5(
    body, session_key UNINDEXED, seq UNINDEXED, thought_number UNINDEXED,
    tokenize = 'porter unicode61 remove_diacritics 2'
)"""
OLD_POSTGRES_INDEX = """
CREATE TABLE jupyter_think.thought_text (
    session_key BIGINT NOT NULL REFERENCES jupyter_think.sessions (key) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    thought_number BIGINT NOT NULL,
    body TEXT NOT NULL,
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
    PRIMARY KEY (session_key, seq)
);
CREATE INDEX thought_text_tsv ON jupyter_think.thought_text USING GIN (tsv)"""


def test_a_store_written_at_schema_2_migrates_to_4_and_searches_the_new_way(
    store_location: str, engine: str
) -> None:
    from datetime import datetime, timezone

    from jupyter_think.core.models import Thought

    def thought(text: str, number: int) -> ThoughtAdded:
        return ThoughtAdded(
            thought=Thought(thought=text, thought_number=number, total_thoughts=3, next_thought_needed=True)
        )

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first, second = thought("ÀLPHA thinking about OR", 1), thought("second note", 2)
    amended = ThoughtAmended(
        thought_id=second.thought.id, thought_number=2, text="second note, amended", at=at
    )
    changes = [first, second, amended]
    store = open_store(store_location)
    store.append([SessionWrite("older", changes)])
    store.close()
    # the tables exactly as schema 2 left them: the English-stemmed index over the thoughts' text
    rows = [(1, 1, 1, "ÀLPHA thinking about OR"), (1, 2, 2, "second note"), (1, 3, 2, "second note, amended")]
    if engine == "sqlite":
        with sqlite3.connect(Path(store_location) / "sessions.db", isolation_level=None) as conn:
            conn.execute("DROP TABLE thought_text")
            conn.execute(OLD_SQLITE_INDEX)
            conn.executemany(
                "INSERT INTO thought_text (session_key, seq, thought_number, body) VALUES (?, ?, ?, ?)", rows
            )
            conn.execute("PRAGMA user_version = 2")
    else:
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as conn:
            conn.execute("DROP TABLE jupyter_think.thought_text")
            conn.execute(OLD_POSTGRES_INDEX)
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO jupyter_think.thought_text (session_key, seq, thought_number, body) VALUES (%s, %s, %s, %s)",
                    rows,
                )
            conn.execute("UPDATE jupyter_think.meta SET value = '2' WHERE key = 'schema_version'")
    reopened = open_store(store_location)
    assert [(hit.thought_number, hit.snippet) for hit in reopened.search("alpha or")] == [
        (1, "[ÀLPHA] thinking about [OR]")
    ]
    assert reopened.search("think") == [], "no stemming any more"
    assert [(hit.seq, hit.snippet) for hit in reopened.search("amended")] == [(3, "second note, [amended]")]
    if engine == "sqlite":
        with sqlite3.connect(Path(store_location) / "sessions.db") as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    else:
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as conn:
            assert conn.execute(
                "SELECT value FROM jupyter_think.meta WHERE key = 'schema_version'"
            ).fetchone() == (str(SCHEMA_VERSION),)
    reopened.append([SessionWrite("older", [thought("third note", 3)])])
    assert [hit.seq for hit in reopened.search("NOTE")] == [2, 3, 4]


def test_a_huge_thought_is_stored_and_its_ordinary_words_are_found(store_location: str) -> None:
    """Index keys and rows have limits (PostgreSQL: about 2.7 kB a key): a 100 000-character "word" in a
    thought of the longest length allowed, and a thought of more words than are indexed, are stored all
    the same, and their ordinary words found."""
    from jupyter_think.core.models import MAX_TEXT_CHARS, Thought

    long_word = f"start {'é' * 100_000} middle {' '.join(f'w{n}' for n in range(3_000))}"
    many_words = f"{'x ' * 55_000}needle"
    assert len(long_word) <= MAX_TEXT_CHARS and len(many_words) <= MAX_TEXT_CHARS
    store = open_store(store_location)
    for session_id, text in (("huge", long_word), ("wordy", many_words)):
        thought = Thought(thought=text, thought_number=1, total_thoughts=1, next_thought_needed=False)
        store.append([SessionWrite(session_id, [ThoughtAdded(thought=thought)])])
    assert [hit.session_id for hit in store.search("start middle")] == ["huge"]
    assert [hit.session_id for hit in store.search("w2990")] == ["huge"]
    assert [hit.session_id for hit in store.search("x")] == ["wordy"]
    assert store.search("needle") == [], "words past the first 50 000 are not indexed"
    assert [hit.session_id for hit in store.search("E" * 150)] == ["huge"], (
        "a long word by its first 100 characters"
    )
    for session_id, text in (("huge", long_word), ("wordy", many_words)):
        loaded = store.load(session_id)
        assert loaded is not None and loaded.entries[0].thought == text
