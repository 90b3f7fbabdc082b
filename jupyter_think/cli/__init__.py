"""The ``jupyter-think`` command line (also ``jupyter think``): list, show, export, diff, search, runs, rm,
trash, archive, gc, recover, mcp — one module per group: :mod:`.sessions` (reading), :mod:`.runs`
(stored experiments), :mod:`.trash`, :mod:`.recover`, and the sharing and ``class`` commands in
:mod:`.classroom`; this module runs one of them.

Every command works on one session store: ``--store URL`` or ``--dir DIR``, else
``$JUPYTER_THINK_STORE``, ``$JUPYTER_THINK_DIR``, else ``<jupyter data dir>/think/sessions``; the
store's connection is closed when the command ends. User errors (an invalid or unknown id, a bad
format, a file that cannot be written) print one line on stderr and exit with status 2; a store that
refuses exits with status 1. No message shows a password (see :mod:`.store.redaction`).

A session is named by its id (your own) or, on a PostgreSQL store shared by a class, by
``OWNER/ID`` (another user's: a teacher reads ``ada/homework``). A session you may not read is
unknown, exactly as one that does not exist. Lists show each session as you name it, your own first,
ids in natural order (``ten-2`` before ``ten-10``).

Thought text and store text (ids, owners, user names) printed to a terminal have their control
characters shown escaped (``\x1b[31m``, ``\u202e``: :func:`~jupyter_think.views.render.escape_controls`),
so a thought or a user name cannot recolour, move or reorder what the terminal shows. ``show``
always escapes; ``export`` escapes only when its output is a terminal (to a file or a pipe it writes
the session exactly).

Examples::

    jupyter-think list
    jupyter-think show Design-Review
    jupyter-think show ada/homework
    jupyter-think export Design-Review --format md -o review.md
    jupyter-think diff run-1 run-2
    jupyter-think search serializer cache
    jupyter-think runs coins
    jupyter-think rm scratch
    jupyter-think trash restore scratch
    jupyter-think gc --days 7
    jupyter-think recover --export refused.jsonl
    jupyter-think --store postgresql://think@db.example/class list
    jupyter-think share homework bob
    jupyter-think mcp --dir /data/think
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from jupyter_think.cli import classroom as cli_class
from jupyter_think.cli import recover as cli_recover
from jupyter_think.cli import runs as cli_runs
from jupyter_think.cli import sessions as cli_sessions
from jupyter_think.cli import trash as cli_trash
from jupyter_think.cli.common import REFUSED, USAGE_ERROR, CommandError, CommandStore, valid_ref
from jupyter_think.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jupyter-think`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Example:
        >>> main(["--dir", "/nonexistent/think-store", "list"])
        No sessions in /nonexistent/think-store.
        0
        >>> main(["--dir", "/nonexistent/think-store", "show", "../etc"])  # the message goes to stderr
        2
    """
    args = build_parser().parse_args(argv)
    where = CommandStore(_location(args))
    handler = _COMMANDS[args.command]
    name = " ".join(part for part in (args.command, getattr(args, "class_action", None)) if part)
    fail = partial(_fail, where, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = partial(_warn_line, where)
            try:
                return handler(where, args)
            finally:
                where.close()
    except CommandError as exc:
        return fail(str(exc), USAGE_ERROR)
    except (
        ValueError,
        ImportError,
    ) as exc:  # a store URL of an unknown kind, psycopg missing, a bad user name
        return fail(str(exc), USAGE_ERROR)
    except LookupError as exc:  # (a session that is not there: SessionNotFound)
        return fail(getattr(exc, "strerror", None) or str(exc), USAGE_ERROR)
    except OSError as exc:  # the store refused, not the user's input
        return fail(exc.strerror or str(exc), REFUSED)
    except KeyboardInterrupt:
        return 130


def _fail(where: CommandStore, name: str, message: str, status: int) -> int:
    where.say(f"jupyter-think {name}: {message}", file=sys.stderr)
    return status


def _warn_line(where: CommandStore, message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    where.say(f"warning: {message}", file=sys.stderr)


# --- commands ------------------------------------------------------------------------------------------


def _location(args: argparse.Namespace) -> str:
    from jupyter_think.core.config import default_store_location

    if getattr(args, "store", None):
        return args.store
    if getattr(args, "dir", None):
        return str(Path(args.dir).expanduser().absolute())
    return default_store_location()


def _mcp(where: CommandStore, args: argparse.Namespace) -> int:
    try:
        from jupyter_think.agent import mcp_server
    except ImportError as exc:  # pragma: no cover - the mcp extra is missing
        raise CommandError(
            f"the MCP server needs the 'mcp' package: pip install 'jupyter-think[mcp]' ({exc})"
        ) from None
    from jupyter_think.core.config import ENV_DIR, ENV_STORE

    if args.session is not None:
        valid_ref(args.session)
    location = where.location
    variable = ENV_STORE if "://" in location else ENV_DIR
    os.environ[variable] = location  # the server's manager: --dir / --store win over the environment
    mcp_server.run(location, session_id=args.session, durability=args.durability)
    return 0


_COMMANDS = {
    **cli_sessions.COMMANDS,
    "runs": cli_runs.runs,
    **cli_trash.COMMANDS,
    "recover": cli_recover.recover,
    "mcp": _mcp,
    **cli_class.COMMANDS,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
