"""No password in any output: a store URL is shown without it (in its user part, percent-encoded or
not, in ``?password=`` and ``&password=``, in a keyword/value conninfo), and no message, warning,
repr or exception carries it — nor ``$PGPASSWORD``'s. The one exception is ``class url``, whose
stdout is the URL, with the password, of the one user it names.

The end-to-end test runs a batch of commands — successes, usage errors, refusals, a database that
does not exist, options the driver cannot parse — with an admin password holding ``@:/%?``, and
greps everything captured for it, in clear and percent-encoded.
"""

from __future__ import annotations

import subprocess
import warnings
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from classroom import ADMIN_PASSWORD, SECRET, Classroom, ok, run

from jupyter_think import SessionManager
from jupyter_think.store import open_store
from jupyter_think.store.postgres.roles import class_store_url, database_of, derive_password
from jupyter_think.store.redaction import redact, safe_location

SECRET_PASSWORD = "s3cr@t:/%?pw"
ENCODED = quote(SECRET_PASSWORD, safe="")


def forms(password: str) -> set[str]:
    """How a password could be written: in clear, percent-encoded (either case), as a query value."""
    encoded = quote(password, safe="")
    return {password, encoded, encoded.lower(), quote(password), quote_plus(password)}


def leaks(text: str, password: str) -> list[str]:
    return [form for form in forms(password) if form in text]


# --- safe_location and redact, on their own --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ada:secret@db.example/class", "postgresql://ada:***@db.example/class"),
        (f"postgresql://ada:{ENCODED}@db.example:5432/class", "postgresql://ada:***@db.example:5432/class"),
        (
            f"postgresql://ada@db.example/class?password={ENCODED}",
            "postgresql://ada@db.example/class?password=***",
        ),
        (
            f"postgresql://ada@db.example/class?sslmode=require&password={ENCODED}&connect_timeout=3",
            "postgresql://ada@db.example/class?sslmode=require&password=***&connect_timeout=3",
        ),
        ("postgresql://db.example/class?pass%77ord=secret", "postgresql://db.example/class?pass%77ord=***"),
        ("postgresql://db.example/class?sslpassword=secret", "postgresql://db.example/class?sslpassword=***"),
        ("postgresql://ada:p@ss@db.example/class", "postgresql://ada:***@db.example/class"),
        ("postgresql://ada:sec@[bad/class", "postgresql://ada:***@[bad/class"),
        ("host=db.example password=secret dbname=class", "host=db.example password=*** dbname=class"),
        ("host=db.example password = 'two \\' words' user=ada", "host=db.example password = *** user=ada"),
        ("postgresql://ada@/class?host=/run/postgresql", "postgresql://ada@/class?host=/run/postgresql"),
    ],
)
def test_safe_location_hides_every_form_of_password(url: str, shown: str) -> None:
    assert safe_location(url) == shown


def test_redact_hides_the_password_in_clear_encoded_and_as_written() -> None:
    url = f"postgresql://ada:{ENCODED}@db.example/class"
    text = f"{url} | {SECRET_PASSWORD} | {ENCODED} | {ENCODED.lower()} | {quote_plus(SECRET_PASSWORD)} | {ENCODED}%zz"
    cleaned = redact(text, url)
    assert leaks(cleaned, SECRET_PASSWORD) == []
    assert cleaned.startswith("postgresql://ada:***@db.example/class | *** | ***")


def test_redact_hides_pgpassword(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", SECRET_PASSWORD)
    assert leaks(redact(f"the server said {SECRET_PASSWORD!r} ({ENCODED})"), SECRET_PASSWORD) == []


def test_a_store_and_its_errors_never_show_the_password() -> None:
    url = f"postgresql://ada:{ENCODED}%zz@127.0.0.1:9/class"  # (a password the driver cannot decode: it quotes it)
    store = open_store(url)
    with pytest.raises(OSError) as refusal:
        store.sessions()
    shown = "\n".join([repr(store), store.location, str(refusal.value), str(refusal.value.__cause__)])
    assert "invalid percent-encoded token" in shown
    assert leaks(shown, SECRET_PASSWORD) == [] and "%zz" not in shown


def test_the_settings_show_the_store_url_without_its_password() -> None:
    from jupyter_think.core.config import ThinkSettings

    settings = ThinkSettings(store=f"postgresql://ada:{ENCODED}@db.example/class")
    assert "postgresql://ada:***@db.example/class" in repr(settings)
    assert leaks(f"{settings!r} {settings}", SECRET_PASSWORD) == []
    assert settings.store == f"postgresql://ada:{ENCODED}@db.example/class"  # (the value itself is kept)


def test_a_usage_error_never_echoes_a_url_given_in_the_wrong_place() -> None:
    done = run("list", f"postgresql://ada:{ENCODED}@db.example/class")
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr
    assert leaks(done.stdout + done.stderr, SECRET_PASSWORD) == []


# --- a batch of real commands -----------------------------------------------------------------------------


def test_no_output_of_a_batch_of_commands_holds_a_password(postgres_server: Any) -> None:
    room = Classroom(postgres_server)
    room.set_up(["ada", "bob"], ["tea"])
    room.think("ada", "homework", "Ada's answer")
    password_of = {user: derive_password(SECRET, room.database, user) for user in ("ada", "bob", "tea")}
    host = f"127.0.0.1:{postgres_server.port}"
    encoded = quote(ADMIN_PASSWORD, safe="")
    admin_urls = {
        "user part": room.admin_url,
        "?password=": f"postgresql://{room.admin}@{host}/{room.database}?password={encoded}",
        "&password=": f"postgresql://{room.admin}@{host}/{room.database}?connect_timeout=5&password={encoded}",
    }
    assert room.admin_url == f"postgresql://{room.admin}:{encoded}@{host}/{room.database}"
    captured: list[tuple[str, str]] = []

    def capture(label: str, done: subprocess.CompletedProcess[str]) -> None:
        captured.append((f"{label}: stdout", done.stdout))
        captured.append((f"{label}: stderr", done.stderr))

    every_kind = [
        ["list"],
        ["show", "nothing-here"],
        ["rm", "nothing-here"],
        ["search", "answer"],
        ["trash"],
        ["gc"],
        ["shares"],
        ["share", "nothing-here", "ada"],
        ["class", "init"],
        ["class", "list"],
        ["class", "add", "a/b"],
        ["class", "add", "carl"],
        ["class", "url", "nobody"],
    ]
    for form, url in admin_urls.items():
        for command in (
            every_kind if form == "user part" else [["list"], ["show", "nothing-here"], ["class", "init"]]
        ):
            capture(f"{form} {command}", run(*command, url=url))
        capture(f"{form} no such database", run("list", url=url.replace(f"/{room.database}", "/no_such_db")))
        capture(f"{form} bad option", run("list", url=url + ("&" if "?" in url else "?") + "sslmode=bogus"))
        capture(f"{form} bad encoding", run("list", url=url.replace(encoded, encoded + "%zz")))
        capture(
            f"{form} no secret", run("class", "url", "ada", url=url, env={"JUPYTER_THINK_CLASS_SECRET": ""})
        )
        url_done = run("class", "url", "ada", url=url)
        assert ok(url_done).strip() == class_store_url(url, "ada", SECRET)
        captured.append((f"{form} class url: stderr", url_done.stderr))
    in_environment = f"postgresql://{room.admin}@{host}/{room.database}"
    for command in (["list"], ["class", "list"], ["show", "nothing-here"]):
        capture(
            f"PGPASSWORD {command}", run(*command, url=in_environment, env={"PGPASSWORD": ADMIN_PASSWORD})
        )
    capture(
        "PGPASSWORD, wrong database",
        run("list", url=in_environment + "x", env={"PGPASSWORD": ADMIN_PASSWORD}),
    )
    for user in ("ada", "tea"):
        for command in (["list"], ["show", "bob/homework"], ["class", "add", "x"], ["rm", "ada/homework"]):
            capture(f"{user} {command}", run(*command, url=room.url(user)))

    with warnings.catch_warnings(record=True) as caught:  # a kernel's manager, on a store that refuses
        warnings.simplefilter("always")
        for url in (*admin_urls.values(), admin_urls["user part"].replace(room.database, "no_such_db")):
            with SessionManager(store=url, durability="async") as manager:
                captured.append(("repr(manager)", repr(manager)))
                captured.append(("repr(store)", repr(manager.store)))
                captured.append(("settings", f"{manager.settings!r} {manager.settings}"))
                try:
                    manager.session("probe").think("a thought")
                    manager.flush(timeout=20)
                except OSError as exc:
                    causes = [exc, exc.__cause__, getattr(exc.__cause__, "__cause__", None)]
                    captured.append(("manager error", " ".join(f"{cause} {cause!r}" for cause in causes)))
    captured += [("warning", str(warning.message)) for warning in caught]

    assert any("no_such_db" in text for _, text in captured)  # (the failures did happen)
    assert any("sslmode" in text for _, text in captured)
    assert any("percent-encoded" in text for _, text in captured)
    assert any(label == "manager error" and "no_such_db" in text for label, text in captured)
    for label, text in captured:
        assert leaks(text, ADMIN_PASSWORD) == [], label
        for user, password in password_of.items():
            assert password not in text, (label, user)
    assert database_of(room.admin_url) == room.database
