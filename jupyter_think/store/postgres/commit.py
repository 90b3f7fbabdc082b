"""Two round trips per commit: a batch of writes sent to PostgreSQL at once, each session's changes
stored by one server-side function.

The row plan of :mod:`~jupyter_think.store.rows` takes five to eight statements per session, each
waiting for the server's answer. Its common case — changes appended to the session's live row, the
row the writer expects, or a new session of the writer's own — is done here by
``jupyter_think.append_changes`` (:func:`routine_sql`), which also sends the store's notification.
``BEGIN`` and one call per session go out in psycopg's pipeline mode in one round trip, ``COMMIT`` in
a second, however many sessions there are. The second is the price of an honest answer: a server that
stops before the calls are done (frozen, gone) commits nothing, so the caller can say "nothing was
recorded"; only a ``COMMIT`` whose answer is lost leaves the outcome unknown.
The function is ``SECURITY INVOKER``: it runs as the caller, under the same
row-level security as plain SQL (:mod:`.policies`). What it does not decide (a row trashed by someone
else, a reset, another user's session that is not there to write) it refuses with
:data:`PLAN_NEEDED` before the transaction commits anything, and the store runs the full row plan.

The function is created with the policies (schema version 5 and ``class init``), and by the owner's
first connection to a store made before it (:func:`ensure_routine`); a role that may not run it (a
class whose groups were granted before it existed) keeps the full plan until ``class init`` runs again.
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from typing import Any

import psycopg

from jupyter_think.store.base import Segment, SessionWrite, Written
from jupyter_think.store.codec import checksum, encode
from jupyter_think.store.rows import RowCounts, change_time
from jupyter_think.store.search import index_text, searchable

PLAN_NEEDED = "JT001"
"""The SQLSTATE with which the function refuses a write it leaves to the full row plan."""
PIPELINE_CHARS = 64_000
"""The most payload characters sent in pipeline mode: a request of megabytes sent that way never reaches
the server whole (psycopg 3.3 waits for an answer the server cannot give before it has read it all)."""
SIGNATURE = (
    "append_changes(text, text, bigint, timestamptz, text, text[], text[], timestamptz[], bigint[], "
    "integer[], bigint[], text[], text[], bigint, text[])"
)
"""The function's name and argument types, as ``to_regprocedure`` and ``GRANT`` name it."""

Conn = psycopg.Connection[Any]


def routine_sql(schema: str, channel: str = "jupyter_think") -> str:
    """The function that stores one session's changes (see the module docstring); safe to run again.

    Its arguments: the owner's user name (``NULL``: the caller's own session) and the id; the row the
    writer expects (``NULL``: none known); the creation time of a row it makes; the status for the
    list; the changes as columns (kinds, payloads, times, checksums); the texts to index (offsets in
    the run, thought numbers, texts, their words joined by spaces); the change in the thought count;
    the branch ids the run names. It returns ``{key, first seq, last seq}``, and notifies ``channel``
    with nothing more (see :func:`~.rows.notify`).
    """
    s = schema
    return f"""
    CREATE OR REPLACE FUNCTION {s}.append_changes(
        p_owner TEXT, p_id TEXT, p_expected BIGINT, p_created TIMESTAMPTZ, p_status TEXT,
        p_kinds TEXT[], p_payloads TEXT[], p_times TIMESTAMPTZ[], p_checksums BIGINT[],
        p_text_offsets INTEGER[], p_text_numbers BIGINT[], p_bodies TEXT[], p_words TEXT[],
        p_thoughts BIGINT, p_branch_ids TEXT[]
    ) RETURNS BIGINT[] LANGUAGE plpgsql SECURITY INVOKER VOLATILE
        SET search_path = pg_catalog, pg_temp AS $$
    DECLARE
        v_who TEXT := CASE WHEN p_owner IS NULL THEN current_user ELSE {s}.role_of(p_owner) END;
        v_key BIGINT;
        v_seq BIGINT;
        v_activity TIMESTAMPTZ;
        v_count BIGINT := cardinality(p_kinds);
        v_branches BIGINT := 0;
    BEGIN
        SELECT se.key, se.last_seq, se.last_activity INTO v_key, v_seq, v_activity FROM {s}.sessions se
            WHERE se.owner = v_who AND se.id = p_id AND se.state = 'live' FOR UPDATE;
        IF v_key IS NULL AND (p_owner IS NOT NULL OR p_expected IS NOT NULL) THEN
            RAISE EXCEPTION 'no live row of % to append to', p_id USING ERRCODE = '{PLAN_NEEDED}';
        ELSIF v_key IS NULL THEN
            INSERT INTO {s}.sessions (id, state, created_at, last_activity, state_changed_at)
                VALUES (p_id, 'live', p_created, p_created, now())
                ON CONFLICT (owner, id) WHERE state = 'live' DO NOTHING
                RETURNING key, last_seq, last_activity INTO v_key, v_seq, v_activity;
            IF v_key IS NULL THEN  -- made by a concurrent writer meanwhile: join it
                SELECT se.key, se.last_seq, se.last_activity INTO v_key, v_seq, v_activity
                    FROM {s}.sessions se
                    WHERE se.owner = current_user AND se.id = p_id AND se.state = 'live' FOR UPDATE;
            END IF;
        ELSIF p_expected IS NOT NULL AND p_expected <> v_key THEN
            RAISE EXCEPTION 'the row of % is not the one expected', p_id USING ERRCODE = '{PLAN_NEEDED}';
        END IF;
        INSERT INTO {s}.changes (session_key, seq, kind, payload, created_at, checksum)
            SELECT v_key, v_seq + c.n, c.kind, c.payload, c.at, c.sum
            FROM unnest(p_kinds, p_payloads, p_times, p_checksums) WITH ORDINALITY AS c(kind, payload, at, sum, n);
        IF cardinality(p_bodies) > 0 THEN
            INSERT INTO {s}.thought_text (session_key, seq, thought_number, body, words)
                SELECT v_key, v_seq + t.n, t.number, t.body, string_to_array(t.words, ' ')
                FROM unnest(p_text_offsets, p_text_numbers, p_bodies, p_words) AS t(n, number, body, words);
        END IF;
        IF cardinality(p_branch_ids) > 0 THEN
            INSERT INTO {s}.branches (session_key, branch_id)
                SELECT v_key, b FROM unnest(p_branch_ids) AS b ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS v_branches = ROW_COUNT;
        END IF;
        UPDATE {s}.sessions SET last_seq = v_seq + v_count,
                last_activity = greatest(v_activity, (SELECT max(t) FROM unnest(p_times) AS t)),
                thoughts = thoughts + p_thoughts, branches = branches + v_branches,
                status = coalesce(p_status, status)
            WHERE key = v_key;
        PERFORM pg_notify('{channel}', '');  -- (once per transaction: the same notification is sent once)
        RETURN ARRAY[v_key, v_seq + 1, v_seq + v_count];
    END
    $$;
    REVOKE ALL ON FUNCTION {s}.{SIGNATURE} FROM PUBLIC;
    """


def usable(conn: Conn, schema: str) -> bool:
    """True when the function exists and the connected role may run it."""
    found = conn.execute(
        "SELECT to_regprocedure(%s) IS NOT NULL AND has_function_privilege(to_regprocedure(%s), 'EXECUTE')",
        (f"{schema}.{SIGNATURE}",) * 2,
    ).fetchone()
    return bool(found and found[0])


def ensure_routine(conn: Conn, schema: str) -> None:
    """Create the function in a store made before it (by its owner, in the caller's transaction), with
    ``EXECUTE`` for the class's groups when there is a class."""
    if usable(conn, schema):
        return
    conn.execute(routine_sql(schema))
    groups = conn.execute(
        f"SELECT value FROM {schema}.meta WHERE key IN ('students_role', 'teachers_role') "
        "AND value IN (SELECT rolname FROM pg_roles)"
    ).fetchall()
    for (group,) in groups:
        conn.execute(
            psycopg.sql.SQL("GRANT EXECUTE ON FUNCTION {}.{} TO {}").format(
                psycopg.sql.Identifier(schema), psycopg.sql.SQL(SIGNATURE), psycopg.sql.Identifier(group)
            )
        )


def takes(write: SessionWrite) -> bool:
    """True when the function can store ``write`` (changes, and no reset among them)."""
    return bool(write.changes) and all(change.kind != "reset" for change in write.changes)


def arguments(write: SessionWrite, owner: str | None, plain_id: str) -> tuple[Any, ...]:
    """The function's arguments for ``write`` to ``owner``'s session ``plain_id`` (``owner`` None: one's own)."""
    kinds, payloads, times, sums = [], [], [], []
    offsets, numbers, bodies, texts = [], [], [], []
    for offset, change in enumerate(write.changes, start=1):
        payload = encode(change)
        kinds.append(change.kind)
        payloads.append(payload)
        times.append(change_time(change))
        sums.append(checksum(payload))
        found = searchable(change)
        if found is not None:
            offsets.append(offset)
            numbers.append(found[0])
            bodies.append(found[1])
            texts.append(index_text(found[1]))
    counts = RowCounts.of(write.changes)
    created = write.created_at or times[0]
    return (
        owner, plain_id, write.expected_key, created, write.status or counts.status,
        kinds, payloads, times, sums, offsets, numbers, bodies, texts,
        counts.thoughts, sorted(counts.branch_ids),
    )  # fmt: skip


CALL = (
    "SELECT {schema}.append_changes(%b::text, %b::text, %b::bigint, %b::timestamptz, %b::text, %b::text[], "
    "%b::text[], %b::timestamptz[], %b::bigint[], %b::integer[], %b::bigint[], %b::text[], %b::text[], "
    "%b::bigint, %b::text[])"
)
"""The call, its arguments sent in binary (text arrays need no quoting)."""


def append_at_once(
    conn: Conn, schema: str, writes: Sequence[tuple[SessionWrite, str | None, str]]
) -> list[Written]:
    """Store ``writes`` — (write, owner or None, plain id), in the order to lock them — in one
    transaction, in two round trips: ``BEGIN`` and one call per write pipelined, then ``COMMIT``. The
    second exists so that a server that stops answering before the calls are done (frozen, gone) leaves
    nothing committed, and the caller can say so: only a ``COMMIT`` whose answer is lost leaves the
    outcome unknown (``commit_unknown`` on the error). Raises psycopg's error (``sqlstate``
    :data:`PLAN_NEEDED` when the full plan must do it; the transaction is rolled back first).

    A connection the server closed while it was idle (a restart) is found before anything is sent:
    its error then says that nothing was committed."""
    if closed_by_server(conn):
        raise psycopg.OperationalError("the server closed the connection while it was idle")
    call = CALL.format(schema=schema)
    calls = [arguments(write, owner, plain_id) for write, owner, plain_id in writes]
    committing = False
    try:
        if sum(len(payload) for values in calls for payload in values[6]) <= PIPELINE_CHARS:
            with conn.pipeline() as pipeline:  # BEGIN and every call in one round trip: nothing commits yet
                conn.execute("BEGIN")
                cursors = [conn.execute(call, values, binary=True) for values in calls]
                pipeline.sync()
        else:  # (a big batch: its round trips cost nothing beside its bytes)
            conn.execute("BEGIN")
            cursors = [conn.execute(call, values, binary=True) for values in calls]
        rows = [cursor.fetchone() for cursor in cursors]
        committing = True  # from here on a lost answer leaves the commit unknown; before, nothing is kept
        conn.execute("COMMIT")
    except psycopg.OperationalError as exc:
        exc.commit_unknown = committing  # type: ignore[attr-defined]  # (read by the link and the writer)
        raise
    except psycopg.Error:
        conn.execute("ROLLBACK")  # (a refusal, e.g. PLAN_NEEDED: the connection is clean for the row plan)
        raise
    written = []
    for (write, _, _), row in zip(writes, rows, strict=True):
        assert row is not None
        key, first, last = row[0]
        written.append(Written(write.session_id, (Segment(int(key), int(first), int(last)),)))
    return written


def closed_by_server(conn: Conn) -> bool:
    """True when an idle connection was closed by the server (a restart, a crash, the session ended): it
    has something to read that ends in the end of the stream. Costs a ``poll`` or two, no round trip."""
    for _ in range(3):  # (libpq reports the end of the stream on the read after the server's last words)
        try:
            readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
            if not readable:
                return False
            conn.pgconn.consume_input()  # (a notice or a parameter's new value is read and kept)
        except (OSError, ValueError, psycopg.OperationalError):
            return True
        if conn.pgconn.status != psycopg.pq.ConnStatus.OK:
            return True
    return False
