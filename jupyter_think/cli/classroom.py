"""``jupyter-think class`` and the sharing commands: a class on one PostgreSQL store, and who may read or
change whose session.

The admin — the database's owner, with CREATEROLE — runs ``class init`` once (and again after an
upgrade: it migrates the tables, which only the owner may alter), then ``class add NAME…`` for the
students and ``class add NAME… --teacher`` for the teachers. Each user gets a login role of their
own whose password is derived from the class secret (``$JUPYTER_THINK_CLASS_SECRET``);
``class url NAME`` prints the URL that user's kernels connect with — the one command that shows a
password (JupyterHub's ``pre_spawn_hook`` calls :func:`jupyter_think.class_store_url` instead).
PostgreSQL's row-level security does the rest (:mod:`jupyter_think.store.postgres.policies`): a student sees her
own sessions and those shared with her, a teacher reads the whole class.

Any user shares their own sessions: ``share ID USER|--class [--write]``, ``unshare ID USER|--class``;
``shares`` lists what you share and what is shared with you.

Examples::

    export JUPYTER_THINK_CLASS_SECRET=...   # the same for the admin and the hub
    export JUPYTER_THINK_STORE=postgresql://admin@db.example/algebra
    jupyter-think class init
    jupyter-think class add ada bob
    jupyter-think class add tea --teacher
    jupyter-think class url ada --base postgresql://db.example/algebra
    jupyter-think share homework bob --write
    jupyter-think share lesson-1 --class
    jupyter-think shares
"""

from __future__ import annotations

import argparse
import errno
from collections.abc import Callable
from typing import Any

from jupyter_think.cli.common import CommandError, CommandStore, natural_key, table, valid_ref

SQLITE_REFUSAL = "needs a PostgreSQL store: --store postgresql://HOST/DATABASE (or $JUPYTER_THINK_STORE)"


def add_commands(command: Callable[..., argparse.ArgumentParser], commands: Any) -> None:
    """Add ``share``, ``unshare``, ``shares`` and ``class`` to the sub-commands ``commands``
    (``command(name, help, parent)`` makes one, with the ``--dir`` / ``--store`` options)."""
    share = command(
        "share", "let USER (or the whole class) read your session ID; with --write, add to it too"
    )
    share.add_argument("session_id", metavar="ID", help="your session")
    _grantee_arguments(share, "share with every student of the class")
    share.add_argument(
        "--write", action="store_true", help="also let them add thoughts to it (never delete or share it)"
    )
    unshare = command("unshare", "take back a share of your session ID")
    unshare.add_argument("session_id", metavar="ID", help="your session")
    _grantee_arguments(unshare, "take back the share with the whole class")
    command("shares", "what you share (with whom, read or write), and what is shared with you")

    klass = command(
        "class",
        "set up a class on a PostgreSQL store: run as the database's owner (with CREATEROLE), "
        "with $JUPYTER_THINK_CLASS_SECRET set for add and url",
    )
    actions = klass.add_subparsers(dest="class_action", metavar="ACTION", required=True)
    command(
        "init",
        "create or upgrade the tables and the class's student and teacher group roles (run again after "
        "an upgrade; safe to repeat)",
        actions,
    )
    add = command(
        "add",
        "create or update login roles for the users NAME… (passwords derived from the class secret)",
        actions,
    )
    add.add_argument("users", nargs="+", metavar="NAME", help="a user name, as the hub knows it")
    add.add_argument(
        "--teacher", action="store_true", help="as teachers: they read every session of the class"
    )
    remove = command(
        "remove",
        "drop the login roles of the users NAME… (their sessions stay; add them again to give them back)",
        actions,
    )
    remove.add_argument("users", nargs="+", metavar="NAME")
    command("list", "the class's users: name, login role, teacher or not, removed or not", actions)
    url = command(
        "url",
        "print the store URL of user NAME, password included (what their kernels connect with)",
        actions,
    )
    url.add_argument("user", metavar="NAME")
    url.add_argument(
        "--base",
        metavar="URL",
        help="the URL the users' kernels reach the server at, e.g. postgresql://db.example:5432/algebra "
        "(default: the store URL, e.g. when it is a local socket)",
    )


def _grantee_arguments(parser: argparse.ArgumentParser, class_help: str) -> None:
    parser.add_argument(
        "user", metavar="USER", nargs="?", help="a user of the class (the name given to class add)"
    )
    parser.add_argument("--class", dest="whole_class", action="store_true", help=class_help)


def _grantee(args: argparse.Namespace) -> str | None:
    """The user named, or ``None`` for ``--class`` (exactly one of them)."""
    if (args.user is None) == (not args.whole_class):
        raise CommandError("name one USER, or give --class for the whole class")
    return None if args.whole_class else str(args.user)


# --- sharing -------------------------------------------------------------------------------------------


def _share(where: CommandStore, args: argparse.Namespace) -> int:
    ref = valid_ref(args.session_id)
    user = _grantee(args)
    said = _sharing(where, ref, lambda store: store.share(ref, user, write=args.write))
    where.say(f"Shared {where.store().canonical(ref)} with {said}.")
    return 0


def _unshare(where: CommandStore, args: argparse.Namespace) -> int:
    ref = valid_ref(args.session_id)
    user = _grantee(args)
    said = _sharing(where, ref, lambda store: store.unshare(ref, user))
    where.say(f"{where.store().canonical(ref)} is no longer shared with {said}.")
    return 0


def _sharing(where: CommandStore, ref: str, change: Callable[[Any], str]) -> str:
    """Run a change of who may see session ``ref``; a session that is not yours to see is unknown."""
    from jupyter_think.store import SessionNotFound

    if not where.is_postgres:
        raise CommandError(f"sharing {SQLITE_REFUSAL}; {where.location} is a personal SQLite store")
    try:
        return change(where.writing())
    except SessionNotFound:
        raise CommandError(where.unknown(ref)) from None
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            raise CommandError(exc.strerror or str(exc)) from None
        raise


def _shares(where: CommandStore, args: argparse.Namespace) -> int:
    if not where.is_postgres:
        where.say(
            f"Nothing is shared: sharing {SQLITE_REFUSAL}; {where.location} is a personal SQLite store."
        )
        return 0
    found = where.store().shares()
    if not found:
        print("Nothing is shared by you or with you.")
        return 0
    for mine, title in ((True, "You share:"), (False, "Shared with you:")):
        rows = sorted(
            (share for share in found if share.mine == mine),
            key=lambda s: (natural_key(s.session), s.grantee),
        )
        if rows:
            print(title)
            cells = [
                [share.session, share.grantee, "read and write" if share.write else "read"] for share in rows
            ]
            print("\n".join("  " + line for line in table(["SESSION", "WITH", "ACCESS"], cells).splitlines()))
    return 0


# --- the class -----------------------------------------------------------------------------------------


def _class(where: CommandStore, args: argparse.Namespace) -> int:
    if not where.is_postgres:
        raise CommandError(
            f"class {args.class_action} {SQLITE_REFUSAL}; {where.location} is a SQLite directory"
        )
    return _ACTIONS[args.class_action](where, args)


def _admin(conn: Any, doing: str) -> None:
    """Refuse (one line saying how to fix it) unless the connected role owns the database and may
    create roles."""
    role, database, creates_roles, owns = conn.execute(
        "SELECT current_user, current_database(), r.rolcreaterole OR r.rolsuper, "
        "pg_has_role(current_user, d.datdba, 'MEMBER') "
        "FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()"
    ).fetchone()
    lacking = [
        what for what, has in (("own the database", owns), ("have CREATEROLE", creates_roles)) if not has
    ]
    if lacking:
        raise CommandError(
            f"to {doing}, connect as the owner of database {database}: role {role} does not "
            f"{' or '.join(lacking)} (as a superuser: ALTER DATABASE {database} OWNER TO ADMIN_ROLE; "
            "ALTER ROLE ADMIN_ROLE CREATEROLE)"
        )


def _init(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.store.postgres import roles as klass
    from jupyter_think.store.postgres.store import SCHEMA

    with where.store().connection() as conn:  # type: ignore[attr-defined]  # (class commands open PostgreSQL only)  # (connecting migrates the tables)
        _admin(conn, "set up a class")
        database = conn.info.dbname
        groups = klass.group_roles(database)
        existing = {
            name
            for (name,) in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(groups),)
            )
        }
        klass.init_class(conn, SCHEMA)
    for role, kind in zip(groups, ("students", "teachers"), strict=False):
        where.say(f"{'Kept' if role in existing else 'Made'} the {kind}' group role {role}.")
    where.say(
        f"The class in database {database} is set up: its tables are up to date and under row-level security."
    )
    where.say(
        "Next: set $JUPYTER_THINK_CLASS_SECRET (the same for you and the hub), then "
        "`jupyter-think class add NAME…` for students and "
        "`jupyter-think class add NAME… --teacher` for teachers."
    )
    return 0


def _add(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.store.postgres import roles as klass
    from jupyter_think.store.postgres.store import SCHEMA

    secret = klass.class_secret()
    users = [klass.validate_user(user) for user in dict.fromkeys(args.users)]
    with where.store().connection() as conn:  # type: ignore[attr-defined]  # (class commands open PostgreSQL only)
        _admin(conn, "add users")
        before = {member.user: member for member in klass.list_members(conn, SCHEMA)}
        added = klass.add_members(conn, SCHEMA, users, teacher=args.teacher, secret=secret)
    for member in added:
        earlier = before.get(member.user)
        kind = "a teacher" if member.teacher else "a student"
        if earlier is None or earlier.removed:
            where.say(f"Added {member.user} as {kind} (login role {member.role}).")
        elif earlier.teacher != member.teacher:
            where.say(f"{member.user} is now {kind} (login role {member.role}).")
        else:
            where.say(f"{member.user} is {kind} already (login role {member.role}; password set again).")
    where.say(
        "Each user's URL: `jupyter-think class url NAME`, "
        "or jupyter_think.class_store_url() in the hub's pre_spawn_hook."
    )
    return 0


def _remove(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.store.postgres import roles as klass
    from jupyter_think.store.postgres.store import SCHEMA

    users = [klass.validate_user(user) for user in dict.fromkeys(args.users)]
    with where.store().connection() as conn:  # type: ignore[attr-defined]  # (class commands open PostgreSQL only)
        _admin(conn, "remove users")
        removed = klass.remove_members(conn, SCHEMA, users)
    for member in removed:
        where.say(
            f"Removed {member.user}: login role {member.role} dropped; their sessions stay "
            "(a teacher still reads "
            f"them; `jupyter-think class add {member.user}` gives them back)."
        )
    return 0


def _list(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.store.postgres import roles as klass
    from jupyter_think.store.postgres.store import SCHEMA

    with where.store().connection() as conn:  # type: ignore[attr-defined]  # (class commands open PostgreSQL only)
        members = klass.list_members(conn, SCHEMA)
    if not members:
        print("No users in this class yet: jupyter-think class add NAME…")
        return 0
    members.sort(key=lambda member: (not member.teacher, natural_key(member.user)))
    cells = [
        [member.user, member.role, "yes" if member.teacher else "no", "yes" if member.removed else "no"]
        for member in members
    ]
    print(table(["USER", "ROLE", "TEACHER", "REMOVED"], cells))
    return 0


def _url(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.store import is_url
    from jupyter_think.store.postgres import roles as klass
    from jupyter_think.store.postgres.store import SCHEMA

    secret = klass.class_secret()
    user = klass.validate_user(args.user)
    if args.base is not None and not is_url(args.base):
        raise CommandError("--base must be a postgresql:// URL: the host, port and database the users reach")
    base = args.base or where.location
    with where.store().connection() as conn:  # type: ignore[attr-defined]  # (class commands open PostgreSQL only)
        database = conn.info.dbname
        found = conn.execute(
            f"SELECT removed_at IS NOT NULL FROM {SCHEMA}.members WHERE user_name = %s", (user,)
        ).fetchone()
    if found is None:
        raise CommandError(f"{user!r} is not in this class: jupyter-think class add {user}")
    if found[0]:
        raise CommandError(
            f"{user!r} was removed from this class: jupyter-think class add {user} brings them back"
        )
    if klass.database_of(base) != database:
        raise CommandError(
            f"--base names the database {klass.database_of(base)!r}, but this class is in {database!r} "
            "(each class's passwords are made for its own database)"
        )
    url = klass.class_store_url(base, user, secret)
    if _secret_options(url):  # (the admin's, kept by class_store_url with the base's other options)
        raise CommandError(
            f"the base URL carries {', '.join(_secret_options(url))}=…, which must not reach a user: "
            "give --base URL without it"
        )
    print(url)  # (the one place a password is printed: this user's own)
    return 0


def _secret_options(url: str) -> list[str]:
    """The options of ``url``'s query that hold a password (``sslpassword=``, ``pass%77ord=``)."""
    from urllib.parse import unquote, urlsplit

    from jupyter_think.store.redaction import SECRET_KEYS

    keys = (item.partition("=")[0] for item in urlsplit(url).query.split("&"))
    return [key for key in keys if unquote(key).strip().lower() in SECRET_KEYS]


_ACTIONS = {"init": _init, "add": _add, "remove": _remove, "list": _list, "url": _url}

COMMANDS = {"share": _share, "unshare": _unshare, "shares": _shares, "class": _class}
"""The handlers of this module's commands, by name (for :func:`jupyter_think.cli.main`)."""
