"""The cell that loads the extension: its ``%think …?`` lines were read by IPython as help requests.

IPython rewrites a whole cell before running any of it, and at that moment the extension (with its
:func:`~jupyter_think.ipython.parser.keep_question_marks` transformer) is not loaded yet. So in::

    %load_ext jupyter_think
    %think Is the cache slow?

the second line reaches the kernel as ``%pinfo slow`` ("Object `slow` not found."). When the
extension loads, it reads the cell as typed (IPython's raw input history), finds each ``%think``
line after the ``%load_ext`` that IPython turned into a help request, and, for the rest of this cell
only, answers those help requests by recording the thought as typed. Every other help request is
IPython's own. A line it cannot account for after the cell ran is named in one line, with how to
record it (run it again: the extension is loaded now).
"""

from __future__ import annotations

import re
from typing import Any

from jupyter_think.ipython.parser import THINK_QUESTION

_LOAD = re.compile(r"[ \t]*%load_ext[ \t]+(?:[\w.]+[ \t]+)*jupyter_think\b")
_HELP_CALL = re.compile(r"get_ipython\(\)\.run_line_magic\('(?P<magic>pinfo2?)', '(?P<target>[^'\\]*)'\)")
HELP_MAGICS = ("pinfo", "pinfo2")


def help_lines(cell: str) -> list[tuple[str, str, str]]:
    """The ``%think …?`` lines after ``%load_ext jupyter_think`` that IPython reads as help requests:
    (``pinfo`` or ``pinfo2``, the object it asks about, the thought's line as typed), in order.

    Example:
        >>> help_lines("%load_ext jupyter_think\\n%think Is the cache slow?\\nx = 1")
        [('pinfo', 'slow', 'Is the cache slow?')]
        >>> help_lines("%think Before loading?\\n%load_ext jupyter_think")
        []
    """
    from IPython.core.inputtransformer2 import TransformerManager

    found: list[tuple[str, str, str]] = []
    loaded = False
    transformer = TransformerManager()
    for line in cell.splitlines():
        if not loaded:
            loaded = _LOAD.match(line) is not None
            continue
        match = THINK_QUESTION.fullmatch(line.rstrip())
        if match is None:
            continue
        call = _HELP_CALL.search(transformer.transform_cell(line.strip() + "\n"))
        if call is not None:
            found.append((call["magic"], call["target"], match["line"]))
    return found


def record_help_lines(ipython: Any) -> None:
    """Answer this cell's ``%think …?`` help requests (see the module docstring) by recording them."""
    history = getattr(ipython, "history_manager", None)
    raw = getattr(history, "input_hist_raw", None)
    if not raw:
        return
    pending = help_lines(raw[-1])
    if not pending:
        return
    magics = ipython.magics_manager.magics["line"]
    originals = {name: magics.get(name) for name in HELP_MAGICS}

    def answer(name: str) -> Any:
        def help_or_thought(line: str = "", *args: Any, **kwargs: Any) -> Any:
            if pending and pending[0][:2] == (name, line.strip()):
                _, _, text = pending.pop(0)
                return ipython.run_line_magic("think", text)
            original = originals[name]
            return original(line, *args, **kwargs) if original is not None else None

        return help_or_thought

    for name in HELP_MAGICS:
        magics[name] = answer(name)

    def restore(*_: Any) -> None:
        for name, original in originals.items():
            if original is None:
                magics.pop(name, None)
            else:
                magics[name] = original
        ipython.events.unregister("post_run_cell", restore)
        for _indent, _line, text in pending:
            print(
                f"jupyter-think: IPython read `%think {text}` as a help request before the extension was "
                "loaded, so it was not recorded; run that line again (the extension is loaded now)."
            )

    ipython.events.register("post_run_cell", restore)
