"""What a line of MCP stdio holds: a message for the SDK's server, or a refusal saying whom to answer.

:class:`Lines` splits what stdin delivers into lines and reads each with :func:`read_message`:
a JSON-RPC message the SDK's server takes, or a :class:`Refusal` for anything else. Nothing is
refused silently: a request whose id can be read is answered with a JSON-RPC error carrying
that id; a line that is no message and names no id (not JSON, a batch, a scalar, an id that is
null or an object) with one carrying ``"id": null`` (``-32700`` when the line is not JSON, as
JSON-RPC says); a malformed notification or a response is not answered (JSON-RPC never answers
those). Each refusal is one line for the log. A line longer than :data:`MAX_MESSAGE_BYTES` is
skipped without being held in memory; its id is still answered when it comes before the thought.
A line that starts with a byte order mark, or holds bytes that are not UTF-8, is refused, and its id
is looked for in the line decoded with replacement characters: the client learns which request failed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mcp import types
from mcp.shared.message import SessionMessage
from mcp_types.methods import SPEC_CLIENT_NOTIFICATION_METHODS
from pydantic import ValidationError

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Longest JSON-RPC line taken from stdin (a thought is at most 100 000 characters)."""

_ID_SCAN_CHARS = 64 * 1024
"""How much of a line that cannot be parsed is searched for its ``"id"``."""
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _after_blanks(text: str, pos: int) -> int:
    """The position of the first character at or after ``pos`` that is not JSON whitespace."""
    match = _WHITESPACE.match(text, pos)
    return pos if match is None else match.end()  # (``*`` always matches: None never comes)


_BOM = "\ufeff"
_JSON_KINDS = {
    int: "a JSON number",
    float: "a JSON number",
    str: "a JSON string",
    bool: "a JSON boolean",
    type(None): "JSON null",
}


@dataclass
class Refusal:
    """A line that is not a message for the server: the errors to answer, and why (for the log)."""

    reason: str
    code: int = types.INVALID_REQUEST
    reply_to: list[types.RequestId | None] = field(default_factory=lambda: [None])
    """Ids to answer with an error (``None``: ``"id": null``); empty for a notification or response."""
    line_number: int = field(default=0, repr=False)

    def replies(self) -> list[SessionMessage]:
        """The error responses to send."""
        error = types.ErrorData(code=self.code, message=self.reason)
        return [
            SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=rid, error=error)) for rid in self.reply_to
        ]

    def log_line(self) -> str:
        """What the log says of this line (one line; nothing from the wire unescaped)."""
        answered = ", ".join("null" if rid is None else ascii(rid) for rid in self.reply_to)
        outcome = f"answered id {answered} with error {self.code}" if answered else "not answered"
        return f"line {self.line_number} dropped: {self.reason}; {outcome}"


def read_message(line: bytes) -> SessionMessage | Refusal:
    """The message on one line of stdin, or why it is refused (and whom to answer).

    Examples:
        >>> read_message(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}').message
        JSONRPCRequest(jsonrpc='2.0', id=1, method='ping', params=None)
        >>> refusal = read_message(b'{"jsonrpc": "1.0", "id": 7, "method": "ping"}')
        >>> print(refusal.reason)
        jsonrpc must be "2.0", not '1.0'
        >>> refusal.code, refusal.reply_to
        (-32600, [7])
        >>> read_message(b'{"jsonrpc": "2.0", "id": 7, "method": "ping", ').reply_to
        [7]
        >>> read_message(b'{"jsonrpc": "2.0", "id": null, "method": "ping"}').reply_to
        [None]
    """
    try:
        message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValidationError as exc:  # not JSON, or not a JSON-RPC message
        return _refusal(line, exc)
    if isinstance(message, types.JSONRPCNotification):
        if b'"id"' in line and _has_id_member(line):  # an id that is null, an object, a float...
            return _refusal(line)
        if message.method not in SPEC_CLIENT_NOTIFICATION_METHODS:
            return Refusal(f"notification {_preview(message.method)} is not an MCP notification", reply_to=[])
    elif isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
        return Refusal(f"a response to id {_preview(message.id)}, which this server never sent", reply_to=[])
    return SessionMessage(message)


def oversized(head: bytes, size: int) -> Refusal:
    """The refusal of a line of ``size`` bytes (over the limit) that starts with ``head``."""
    request_id = _scan_id(head.decode("utf-8", "replace"))
    return Refusal(
        f"message of {size} bytes is longer than the limit of {MAX_MESSAGE_BYTES} bytes",
        reply_to=[request_id],
    )


def _refusal(line: bytes, error: ValidationError | None = None) -> Refusal:
    """Why ``line``, which the SDK refused (with ``error``), is no message; for bad lines only."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = line.decode("utf-8", "replace")
        return Refusal(f"not valid UTF-8 (byte {exc.start})", types.PARSE_ERROR, [_find_id(text)])
    if text.startswith(_BOM):
        return Refusal(
            "starts with a byte order mark (U+FEFF); send UTF-8 JSON without one",
            types.PARSE_ERROR,
            [_find_id(text)],
        )
    try:
        value = json.loads(text)
    except RecursionError:
        return Refusal("JSON nested too deeply", types.PARSE_ERROR, [_scan_id(text)])
    except json.JSONDecodeError as exc:
        return Refusal(f"not JSON: {exc}", types.PARSE_ERROR, [_scan_id(text)])
    except ValueError:  # a number of more digits than Python converts to an int
        return Refusal("JSON with a number too long to read", types.PARSE_ERROR, [_find_id(text)])
    if isinstance(value, list):
        ids: list[int | str | None] = [
            rid for item in value if isinstance(item, dict) and (rid := _usable_id(item)) is not None
        ]
        what = "an empty batch" if not value else f"a batch of {len(value)} messages"
        return Refusal(
            f"{what}: batches are not supported, send one message per line", reply_to=ids or [None]
        )
    if not isinstance(value, dict):
        return Refusal(f"{_JSON_KINDS[type(value)]} is not a JSON-RPC message (an object)")
    reason, code = _fault(value, error)
    request_id = _usable_id(value)
    is_response = "method" not in value and ("result" in value or "error" in value)
    is_notification = "id" not in value and isinstance(value.get("method"), str)
    if is_response or is_notification:
        reply_to: list[types.RequestId | None] = []  # JSON-RPC never answers those, even malformed
    else:
        reply_to = [request_id]  # None: "id": null
    return Refusal(reason, code, reply_to)


def _find_id(text: str) -> types.RequestId | None:
    """The id of a request in ``text`` (a line decoded with replacement characters, perhaps after a
    byte order mark): read as JSON when it parses, else scanned up to the first member that does not.

    Example:
        >>> _find_id('\\ufeff{"jsonrpc": "2.0", "id": 7, "method": "p\\ufffdng"}')
        7
    """
    text = text.removeprefix(_BOM)
    try:
        value = json.loads(text, parse_int=_short_int)
    except (ValueError, RecursionError):
        return _scan_id(text)
    return _usable_id(value) if isinstance(value, dict) else None


def _fault(message: dict[str, Any], error: ValidationError | None) -> tuple[str, int]:
    """What is wrong with a JSON object that is not a valid JSON-RPC message, and its error code."""
    try:
        json.dumps(message, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # json.loads takes "\ud800"; JSON-RPC's UTF-8 cannot carry it
        return "a string holds a lone UTF-16 surrogate, which is not Unicode text", types.PARSE_ERROR
    except (ValueError, RecursionError):
        pass
    if message.get("jsonrpc") != "2.0":
        return f'jsonrpc must be "2.0", not {_preview(message.get("jsonrpc"))}', types.INVALID_REQUEST
    if "id" in message and _usable_id(message) is None:
        return f"id must be a string or an integer, not {_preview(message['id'])}", types.INVALID_REQUEST
    if not isinstance(message.get("method"), str):
        if "method" in message:
            return "method must be a string", types.INVALID_REQUEST
        return "neither a request (no method) nor a valid response", types.INVALID_REQUEST
    if message.get("params") is not None and not isinstance(message["params"], dict):
        return "params must be an object", types.INVALID_PARAMS
    for detail in error.errors(include_url=False) if error is not None else ():
        if detail["type"] == "json_invalid":  # e.g. nested deeper than the SDK's parser goes
            return f"JSON the SDK cannot read ({detail['msg']})", types.PARSE_ERROR
    return "not a valid JSON-RPC message", types.INVALID_REQUEST


def _short_int(digits: str) -> int | None:
    """A JSON integer as Python reads it, or ``None`` past the digits ``int()`` converts (4 300)."""
    return int(digits) if len(digits) <= 4000 else None


def _usable_id(message: dict[str, Any]) -> types.RequestId | None:
    request_id = message.get("id")
    return request_id if type(request_id) in (int, str) else None


def _has_id_member(line: bytes) -> bool:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and "id" in value


def _scan_id(text: str) -> types.RequestId | None:
    """The ``"id"`` of a JSON object read only up to the first member that cannot be parsed.

    Example:
        >>> _scan_id('{"jsonrpc": "2.0", "id": "a-1", "params": {"thought": "cut sh')
        'a-1'
    """
    decoder = json.JSONDecoder()
    text = text[:_ID_SCAN_CHARS]
    pos = _after_blanks(text, 0)
    if not text.startswith("{", pos):
        return None
    pos += 1
    try:
        while True:
            pos = _after_blanks(text, pos)
            key, length = decoder.raw_decode(text[pos:])
            pos = _after_blanks(text, pos + length)
            if not isinstance(key, str) or not text.startswith(":", pos):
                return None
            pos = _after_blanks(text, pos + 1)
            value, length = decoder.raw_decode(text[pos:])
            if key == "id":
                return value if type(value) in (int, str) else None
            pos = _after_blanks(text, pos + length)
            if not text.startswith(",", pos):
                return None
            pos += 1
    except (ValueError, RecursionError):
        return None


def _preview(value: object) -> str:
    """A short printable form of a value from the wire (escapes control characters)."""
    shown = ascii(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


class Lines:
    """Splits what stdin delivers into lines, and reads each: a message, or a refusal.

    A line longer than ``limit`` is not kept: only its first bytes are, to find its id.

    Example:
        >>> lines = Lines()
        >>> read = lines.feed(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\\n{"id": 2, "me')
        >>> [message.message.id for message in read]
        [1]
        >>> print(lines.end()[0].log_line())  # doctest: +ELLIPSIS
        line 2 dropped: not JSON: Unterminated string ... answered id 2 with error -32700
    """

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.limit = limit
        self.count = 0
        """Lines read so far."""
        self._buffer = bytearray()
        self._skipped: tuple[bytes, int] | None = None  # the start and length so far of a line too long

    def feed(self, chunk: bytes) -> list[SessionMessage | Refusal]:
        """The messages (and refusals) of the lines that ``chunk`` completes."""
        read: list[SessionMessage | Refusal] = []
        buffer = self._buffer
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            self._read(buffer, start, end, read)
            start = end + 1
        del buffer[:start]
        if self._skipped is not None or len(buffer) > self.limit:  # drop the rest; keep the start
            head, size = self._skipped or (bytes(buffer[:_ID_SCAN_CHARS]), 0)
            self._skipped = head, size + len(buffer)
            buffer.clear()
        return read

    def end(self) -> list[SessionMessage | Refusal]:
        """What is left at the end of input: a last line without a newline."""
        read: list[SessionMessage | Refusal] = []
        if self._buffer or self._skipped is not None:
            self._read(self._buffer, 0, len(self._buffer), read)
            self._buffer.clear()
        return read

    def _read(self, buffer: bytearray, start: int, end: int, read: list[SessionMessage | Refusal]) -> None:
        self.count += 1
        if self._skipped is not None:
            (head, size), self._skipped = self._skipped, None
            outcome: SessionMessage | Refusal = oversized(head, size + end - start)
        elif end - start > self.limit:
            outcome = oversized(bytes(buffer[start : start + _ID_SCAN_CHARS]), end - start)
        else:
            line = bytes(buffer[start:end])
            if not line.strip():
                return  # a blank line carries no message
            try:
                outcome = read_message(line)
            except Exception as exc:
                outcome = Refusal(f"unreadable ({type(exc).__name__})", types.PARSE_ERROR)
        if isinstance(outcome, Refusal):
            outcome.line_number = self.count
        read.append(outcome)
