"""Search, the same on every engine: the words of a text, what a query asks for, a hit's rank and snippet.

Both engines index the words this module makes, and memory searches with it, so the same store
gives the same hits, in the same order, with the same snippets, whatever holds it:

- A text's *words* are its runs of letters, digits and ``_`` after normalising: Unicode NFKD with
  the combining marks dropped, and case folded (``ÀLPHA`` and ``alpha`` are one word, ``Straße``
  and ``strasse`` too). No stemming and no stop words: ``thinking`` does not find ``think``, and
  ``or``, ``and``, ``not``, ``near`` are words like any other. Quotes, ``*``, ``-`` and brackets are
  not syntax, they only separate words.
- A word is indexed by its first :data:`MAX_WORD_CHARS` characters, and a thought by its first
  :data:`MAX_INDEX_WORDS` words: a very long "word" or thought never makes an insert fail (index keys
  and rows have limits), and the normal words of such a thought are still found.
- A query is refused (``ValueError``) past :data:`MAX_QUERY_CHARS` characters or
  :data:`MAX_QUERY_WORDS` words; a thought matches when it holds every word of the query. So the cost
  of a search grows with its matches, not with the length of what was typed.
- A hit's rank is how many of the thought's words are query words: it depends on that thought alone,
  never on the rest of the store (see :meth:`~jupyter_think.store.base.Store.search`). Ties go by
  session id, then by the change's sequence number.
- When more than :data:`SEARCH_WINDOW` thoughts match, the newest of them are ranked (the highest
  (row, seq) in a store; the last ones in memory).

Example:
    >>> words("Straße: ÀLPHA-beta, naïve_idea ½")
    ['strasse', 'alpha', 'beta', 'naive_idea', '1', '2']
    >>> snippet("Cache the parsed file; parsing is slow", query_terms("PARSED"))
    'Cache the [parsed] file; parsing is slow'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jupyter_think.core.models import Change, ThoughtAdded, ThoughtAmended

MAX_WORD_CHARS = 100
"""Characters of a word that are indexed and compared (PostgreSQL index keys hold about 2.7 kB)."""
MAX_INDEX_WORDS = 50_000
"""Words of one thought that are indexed (the first ones); a search finds only those."""
MAX_QUERY_CHARS = 1_000
"""Longest query accepted, in characters."""
MAX_QUERY_WORDS = 32
"""Most words a query may hold."""
MAX_LIMIT = 1_000
"""Most hits one search returns."""
SEARCH_WINDOW = 2000
"""When more thoughts match a search than this, the newest this many are ranked (a common word in
100 000 thoughts would otherwise cost hundreds of milliseconds to rank); fewer are all ranked."""
SNIPPET_WORDS = 24
"""Words a snippet shows; a longer thought is cut around its best run of matches, marked with ``…``."""
SNIPPET_CONTEXT = 4
"""Words a cut snippet shows before its first match."""
SNIPPET_GAP = 40
"""Characters shown of what lies between two words (a long run of punctuation is cut, with ``…``)."""

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_folded: dict[str, str] = {}


@dataclass(frozen=True)
class SearchHit:
    """One thought that matched a search: where it is, a snippet with the matches in [brackets], its rank."""

    session_id: str
    thought_number: int
    seq: int
    snippet: str
    score: float


# --- words ---------------------------------------------------------------------------------------------


def _fold(char: str) -> str:
    """One character normalised: NFKD, marks dropped, case folded (twice: folding can decompose)."""
    found = _folded.get(char)
    if found is None:
        found = _strip_marks(
            unicodedata.normalize("NFKD", _strip_marks(unicodedata.normalize("NFKD", char)).casefold())
        )
        if len(_folded) < 100_000:
            _folded[char] = found
    return found


def _strip_marks(text: str) -> str:
    return "".join(c for c in text if not unicodedata.category(c).startswith("M"))


def normalise(text: str) -> str:
    """``text`` as the index sees it: no accents, case folded (character by character, so every
    character's output can be traced back to it; see :func:`snippet`).

    Example:
        >>> normalise("Ça NÉE ﬁn")
        'ca nee fin'
    """
    if text.isascii():
        return text.lower()
    return "".join([_fold(char) for char in text])


def words(text: str) -> list[str]:
    """The words of ``text`` that are indexed, in order (see the module docstring).

    Example:
        >>> words('a "quoted" OR NEAR(x y) * -minus')
        ['a', 'quoted', 'or', 'near', 'x', 'y', 'minus']
    """
    found = _WORD.findall(normalise(text))
    if len(found) > MAX_INDEX_WORDS:
        del found[MAX_INDEX_WORDS:]
    return [word[:MAX_WORD_CHARS] for word in found]


def index_text(text: str) -> str:
    """The words of ``text`` joined by spaces: what SQLite's full-text index is given."""
    return " ".join(words(text))


def query_terms(query: str) -> list[str]:
    """The distinct words a query asks for, in order; ``ValueError`` (one line) for a query too long.

    Example:
        >>> query_terms("Cache, cache AND ÀLPHA")
        ['cache', 'and', 'alpha']
    """
    if not isinstance(query, str):
        raise ValueError(f"search words must be text, not {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(
            f"the search is {len(query)} characters long; at most {MAX_QUERY_CHARS} are taken: search for fewer words"
        )
    found = _WORD.findall(normalise(query))
    if len(found) > MAX_QUERY_WORDS:
        raise ValueError(
            f"the search has {len(found)} words; at most {MAX_QUERY_WORDS} are taken (a thought must hold "
            "every one): search for fewer words"
        )
    return list(dict.fromkeys(word[:MAX_WORD_CHARS] for word in found))


def check_limit(limit: Any) -> int:
    """``limit`` when it is a whole number from 1 to :data:`MAX_LIMIT`, else ``ValueError`` (one line).

    Example:
        >>> check_limit(10)
        10
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"the search limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
    return limit


# --- rank and snippet ------------------------------------------------------------------------------------


def score(text: str, terms: Iterable[str]) -> float:
    """The rank of a thought: how many of its indexed words are among ``terms``."""
    wanted = set(terms)
    return float(sum(1 for word in words(text) if word in wanted))


def _spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, indexed word) of each word of ``text``, with positions in ``text`` itself.

    A word's span covers the marks that follow it (``e`` + ``◌́``); one character that normalises to
    several words (``½``) gives each of them its span; :func:`_merged` joins such overlaps.
    """
    if text.isascii():
        return [(m.start(), m.end(), m.group().lower()[:MAX_WORD_CHARS]) for m in _WORD.finditer(text)]
    pieces = [_fold(char) for char in text]
    origin = [index for index, piece in enumerate(pieces) for _ in piece]  # normalised position -> text's
    folded = "".join(pieces)
    spans = []
    for match in _WORD.finditer(folded):
        start, end = match.span()
        last = origin[end - 1]
        stop = len(text) if end == len(origin) else (origin[end] if origin[end] > last else last + 1)
        spans.append((origin[start], stop, match.group()[:MAX_WORD_CHARS]))
    return spans[:MAX_INDEX_WORDS]


def _merged(spans: list[tuple[int, int, str]], wanted: set[str]) -> list[tuple[int, int, bool]]:
    """(start, end, is a match) of the words shown; words sharing characters become one."""
    shown: list[tuple[int, int, bool]] = []
    for start, end, word in spans:
        match = word in wanted
        if shown and start < shown[-1][1]:
            first, last, matched = shown[-1]
            shown[-1] = (first, max(last, end), matched or match)
        else:
            shown.append((start, end, match))
    return shown


def snippet(text: str, terms: Sequence[str]) -> str:
    """``text`` with each word among ``terms`` in [brackets], cut to :data:`SNIPPET_WORDS` words
    around its best run of matches (``…`` where it was cut); whitespace becomes one space.

    Example:
        >>> snippet("An ÀLPHA test", ["alpha"])
        'An [ÀLPHA] test'
    """
    shown = _merged(_spans(text), set(terms))
    if not shown:
        return _gap(text, 0, len(text))
    first = _best_window(shown)
    last = min(first + SNIPPET_WORDS, len(shown)) - 1
    parts = ["…" if first > 0 else _gap(text, 0, shown[0][0])]
    for index in range(first, last + 1):
        start, end, match = shown[index]
        if index > first:
            parts.append(_gap(text, shown[index - 1][1], start))
        word = (
            text[start:end] if end - start <= MAX_WORD_CHARS else text[start : start + MAX_WORD_CHARS] + "…"
        )
        parts.append(f"[{word}]" if match else word)
    parts.append("…" if last < len(shown) - 1 else _gap(text, shown[-1][1], len(text)))
    return "".join(parts).strip()


def _best_window(shown: list[tuple[int, int, bool]]) -> int:
    """The first word shown: of the first run of :data:`SNIPPET_WORDS` words holding the most matches,
    moved on (never past a match) so that its first match has a few words before it."""
    if len(shown) <= SNIPPET_WORDS:
        return 0
    count = sum(match for _, _, match in shown[:SNIPPET_WORDS])
    best, best_count = 0, count
    for first in range(1, len(shown) - SNIPPET_WORDS + 1):
        count += shown[first + SNIPPET_WORDS - 1][2] - shown[first - 1][2]
        if count > best_count:
            best, best_count = first, count
    first_match = next((i for i in range(best, best + SNIPPET_WORDS) if shown[i][2]), best)
    return max(best, min(first_match - SNIPPET_CONTEXT, len(shown) - SNIPPET_WORDS))


def _gap(text: str, start: int, end: int) -> str:
    """What lies between two words, whitespace as one space, cut to :data:`SNIPPET_GAP` characters."""
    between = _SPACE.sub(" ", text[start:end])
    if len(between) > SNIPPET_GAP:
        half = SNIPPET_GAP // 2
        between = between[:half] + "…" + between[-half:]
    return between


# --- what is indexed -------------------------------------------------------------------------------------


def searchable(change: Change) -> tuple[int, str] | None:
    """(thought number, text) a change adds to the full-text index, or ``None``: a thought's text, and
    the new text of an amended thought (so a search finds the corrected words; the earlier ones stay found)."""
    if isinstance(change, ThoughtAdded):
        return change.thought.thought_number, change.thought.thought
    if isinstance(change, ThoughtAmended):
        return change.thought_number, change.text
    return None


# --- memory ------------------------------------------------------------------------------------------------


def search_in_memory(query: str, sessions: Iterable[Any], limit: int = 50) -> list[SearchHit]:
    """The search of :meth:`Store.search <jupyter_think.store.base.Store.search>` over sessions in memory.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("notes")
        >>> _ = s.think("Cache the parsed file; parsing is slow")
        >>> [hit.snippet for hit in search_in_memory("parsed", [s])]
        ['Cache the [parsed] file; parsing is slow']
    """
    terms = query_terms(query)
    limit = check_limit(limit)
    if not terms:
        return []
    wanted = set(terms)
    matches = []
    for session in sessions:
        for seq, item in enumerate(session.thoughts, start=1):
            found = words(item.thought)
            if wanted.issubset(found):
                matches.append((session.id, seq, item, float(sum(1 for word in found if word in wanted))))
    ranked = sorted(matches[-SEARCH_WINDOW:], key=lambda match: (-match[3], match[0], match[1]))[:limit]
    return [
        SearchHit(session_id, item.thought_number, seq, snippet(item.thought, terms), rank)
        for session_id, seq, item, rank in ranked
    ]
