"""The PostgreSQL ``presenter`` table (schema 7) and its row-level security.

One row per session: the step its owner's presenter view shows. Readable by whoever may read the
session (its owner, those it is shared with, the class's teachers); written only by the session's
owner, so a lesson shared with the class (``share --class``) is moved by its teacher's presenter alone.
:func:`presenter_sql` is idempotent: it is migration 7, and :func:`.policies.policies_sql` (which
``class init`` runs again) includes it.

Example:
    >>> "FORCE ROW LEVEL SECURITY" in presenter_sql("jupyter_think")
    True
"""

from __future__ import annotations


def presenter_sql(schema: str) -> str:
    """Create the ``presenter`` table when it is missing, and (re)make its policies."""
    s = schema
    owned = f"EXISTS (SELECT 1 FROM {s}.sessions se WHERE se.key = session_key AND se.owner = current_user)"
    return f"""
    CREATE TABLE IF NOT EXISTS {s}.presenter (
        session_key BIGINT PRIMARY KEY REFERENCES {s}.sessions (key) ON DELETE CASCADE,
        step BIGINT NOT NULL CHECK (step >= 0),
        steps BIGINT NOT NULL CHECK (steps >= step),
        moved_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    ALTER TABLE {s}.presenter ENABLE ROW LEVEL SECURITY;
    ALTER TABLE {s}.presenter FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS readable ON {s}.presenter;
    CREATE POLICY readable ON {s}.presenter FOR SELECT
        USING (EXISTS (SELECT 1 FROM {s}.sessions se WHERE se.key = session_key));
    DROP POLICY IF EXISTS moved ON {s}.presenter;
    CREATE POLICY moved ON {s}.presenter FOR INSERT WITH CHECK ({owned});
    DROP POLICY IF EXISTS moved_again ON {s}.presenter;
    CREATE POLICY moved_again ON {s}.presenter FOR UPDATE USING ({owned}) WITH CHECK ({owned});
    DROP POLICY IF EXISTS purgeable ON {s}.presenter;
    CREATE POLICY purgeable ON {s}.presenter FOR DELETE USING ({owned});
    """


def presenter_grants_sql(schema: str, role: str) -> str:
    """What a class member's group may do with the table; the policies decide on which rows."""
    return f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.presenter TO {role};"
