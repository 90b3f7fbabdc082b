"""Passwords kept out of every message: a store URL shown without them, and any text with them hidden.

A PostgreSQL store URL may carry a password in its user part (``postgresql://ada:PASSWORD@host/db``,
percent-encoded when it holds ``@:/%?``), in its query (``?password=…``, ``&sslpassword=…``) or,
as a keyword/value conninfo, as ``password=…``; ``$PGPASSWORD`` may hold one too. Messages name a
store by :func:`safe_location`; :func:`redact` cleans any text that might echo connection text (a
driver's error quotes what it could not parse). Plain string work, no driver needed, so a command on
a SQLite store can use it as well.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, quote_plus, unquote

SECRET_KEYS = ("password", "sslpassword")
"""Connection parameters that hold a secret: never shown (:func:`safe_location`, :func:`redact`)."""
HIDDEN = "***"

_CONNINFO_SECRET = re.compile(r"(?<![\w.])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)
"""``password=VALUE`` in a keyword/value conninfo (VALUE bare, or quoted with backslash escapes)."""


def safe_location(url: str) -> str:
    """``url`` without its passwords, for messages: in the user part (``user:***@``), in the query
    (``?password=***``, ``&sslpassword=***``, keys percent-encoded or not) and in a keyword/value
    conninfo (``password=***``). A password given percent-encoded is hidden whole; nothing else of
    the URL changes.

    Example:
        >>> safe_location("postgresql://teacher:secret@db.example/class")
        'postgresql://teacher:***@db.example/class'
        >>> safe_location("postgresql://ada:p%40ss%3A%2F%25%3F@db.example/class?password=x&sslmode=require")
        'postgresql://ada:***@db.example/class?password=***&sslmode=require'
        >>> safe_location("host=db.example dbname=class password='two words' user=ada")
        'host=db.example dbname=class password=*** user=ada'
    """
    if "://" not in url:
        return _CONNINFO_SECRET.sub(lambda match: match[1] + HIDDEN, url)
    scheme, rest = url.split("://", 1)
    cut = min((at for at in (rest.find("?"), rest.find("#")) if at >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    user_info, at, hosts = authority.rpartition("@")  # (the last '@': a password may hold a bare one)
    if at and ":" in user_info:
        authority = f"{user_info.split(':', 1)[0]}:{HIDDEN}@{hosts}"
    query, hash_mark, fragment = tail.partition("#")
    items = query[1:].split("&") if query.startswith("?") else []
    for index, item in enumerate(items):
        key, equals, _ = item.partition("=")
        if equals and _is_secret_key(key):
            items[index] = f"{key}={HIDDEN}"
    query = "?" + "&".join(items) if query.startswith("?") else query
    return f"{scheme}://{authority}{query}{hash_mark}{fragment}"


def redact(text: str, url: str | None = None) -> str:
    """``text`` with every password that ``url`` holds (and ``$PGPASSWORD``'s) replaced by ``***``:
    in clear, percent-encoded (either case of hex digits), as written in the URL, and ``url`` itself
    shown as :func:`safe_location` gives it. For any message, warning or repr that might echo
    connection text (a driver's error quotes what it could not parse).

    Example:
        >>> url = "postgresql://ada:p%40ss%3A%2F%25%3F@db.example/class"
        >>> redact(f"cannot reach {url}: bad password 'p@ss:/%?' (p%40ss%3A%2F%25%3F)", url)
        "cannot reach postgresql://ada:***@db.example/class: bad password '***' (***)"
    """
    if url:
        text = text.replace(url, safe_location(url))
    for secret in sorted(_secret_forms(url), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def _is_secret_key(key: str) -> bool:
    return unquote(key).strip().lower() in SECRET_KEYS


def _secrets_of(url: str) -> set[str]:
    """The passwords ``url`` holds, as written in it and decoded."""
    found: set[str] = set()
    if "://" in url:
        rest = url.split("://", 1)[1]
        cut = min((at for at in (rest.find("?"), rest.find("#")) if at >= 0), default=len(rest))
        user_info, at, _ = rest[:cut].rpartition("@")
        if at and ":" in user_info:
            found.add(user_info.split(":", 1)[1])
        for item in rest[cut:].partition("#")[0].lstrip("?").split("&"):
            key, equals, value = item.partition("=")
            if equals and _is_secret_key(key):
                found.add(value)
    else:
        for match in _CONNINFO_SECRET.finditer(url):
            value = match[2]
            found.add(value)
            if value.startswith("'"):
                found.add(re.sub(r"\\(.)", r"\1", value.strip("'")))
    found.update(unquote(value) for value in list(found))
    return found


def _secret_forms(url: str | None) -> set[str]:
    """Every way the passwords of ``url`` and ``$PGPASSWORD`` could be written in a message."""
    secrets = _secrets_of(url) if url else set()
    if os.environ.get("PGPASSWORD"):
        secrets.add(os.environ["PGPASSWORD"])
    forms: set[str] = set()
    for secret in secrets:
        encoded = quote(secret, safe="")
        forms.update(
            (
                secret,
                encoded,
                re.sub(r"%[0-9A-F]{2}", lambda hexa: hexa[0].lower(), encoded),
                quote(secret),
                quote_plus(secret),
                repr(secret)[1:-1],
            )
        )
    return {form for form in forms if form}
