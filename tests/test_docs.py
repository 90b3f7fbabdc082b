"""Every code block in README.md and docs/*.md runs exactly as written.

The info string of a fenced block says what this test does with it; every block must say one of:

============  =========================================================================================
info string   what the test does
============  =========================================================================================
``python``    runs as one cell in a real kernel. The blocks of one file run in order in one kernel, as
              the cells of one notebook, with a fresh store (``JUPYTER_THINK_DIR``) and IPython
              directory, in a temporary working directory. Magics, top-level ``await``: all as typed.
              The real OpenAI and Anthropic clients in the examples reach a local stand-in model
              (the package's scripted model, served on 127.0.0.1) through ``OPENAI_BASE_URL`` /
              ``ANTHROPIC_BASE_URL``.
``bash``      runs with ``bash -e -o pipefail`` in a subprocess over the same store and directories
              (the kernel's changes are flushed first), with the venv's commands (``jupyter-think``,
              ``ipython``) on ``PATH`` and an empty standard input.
``json``      must parse as JSON (a configuration snippet: shown, checked, not run).
``console``   **not run**: commands for your own machine that start long-running programs or a
              whole test suite (``./dev lab``, ``./dev test``, ``pytest --nbval ...``).
``text``      **not run**: output, prose, diagrams.
============  =========================================================================================

A block with no info string, or any other one, fails :func:`test_every_code_block_says_how_it_is_checked`,
so a new block is either run or visibly marked as not run. New ``docs/*.md`` files are picked up by
themselves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from kernel_harness import Kernel
from markdown_it import MarkdownIt

from jupyter_think.agent.scripted import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
RUN_IN_KERNEL = "python"
RUN_IN_SHELL = "bash"
PARSED = "json"
NOT_RUN = ("console", "text")
KINDS = (RUN_IN_KERNEL, RUN_IN_SHELL, PARSED, *NOT_RUN)
MODEL_TURNS = [
    [
        {
            "thought": "Split the coins in three groups",
            "thoughtNumber": 1,
            "totalThoughts": 2,
            "nextThoughtNeeded": True,
        }
    ],
    [
        {
            "thought": "Two weighings are enough",
            "thoughtNumber": 2,
            "totalThoughts": 2,
            "nextThoughtNeeded": False,
        }
    ],
    "Two weighings.",
]
"""What the stand-in model answers the docs' OpenAI and Anthropic examples (``OPENAI_BASE_URL`` and
``ANTHROPIC_BASE_URL`` point the real SDK clients at it, so the examples run as written, offline)."""


@dataclass(frozen=True)
class Block:
    """One fenced code block: its document, first line (1-based), language and code."""

    path: Path
    line: int
    kind: str
    code: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} ({self.kind or 'no info string'})"


def code_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, in order (CommonMark: indented fences in lists too)."""
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    return [
        Block(
            path,
            token.map[0] + 1 if token.map else 0,
            token.info.split()[0] if token.info.strip() else "",
            token.content,
        )
        for token in tokens
        if token.type == "fence"
    ]


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- the convention ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_every_code_block_says_how_it_is_checked(path: Path) -> None:
    unmarked = [str(block) for block in code_blocks(path) if block.kind not in KINDS]
    assert not unmarked, (
        f"give these blocks one of the info strings {', '.join(KINDS)} "
        f"(see tests/test_docs.py for what each means): {unmarked}"
    )


def test_the_documents_hold_blocks_that_run() -> None:
    kinds = [block.kind for path in DOCUMENTS for block in code_blocks(path)]
    assert kinds.count(RUN_IN_KERNEL) >= 5 and kinds.count(RUN_IN_SHELL) >= 2


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_json_blocks_are_valid_json(path: Path) -> None:
    for block in code_blocks(path):
        if block.kind == PARSED:
            try:
                json.loads(block.code)
            except ValueError as exc:
                pytest.fail(f"{block}: not valid JSON: {exc}")


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_no_magic_line_carries_a_trailing_comment(path: Path) -> None:
    """A ``# comment`` after ``%think`` would be recorded as part of the thought (the kernel cannot tell)."""
    for block in code_blocks(path):
        if block.kind == RUN_IN_KERNEL:
            for number, line in enumerate(block.code.splitlines(), start=block.line + 1):
                if re.match(r"\s*%[a-z]", line) and re.search(r"\s#(\s|$)", line):
                    pytest.fail(f"{_name(path)}:{number}: put the comment on a line of its own: {line!r}")


# --- running them -------------------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_the_code_blocks_of_each_document_run_as_written(path: Path, tmp_path: Path) -> None:
    blocks = [block for block in code_blocks(path) if block.kind in (RUN_IN_KERNEL, RUN_IN_SHELL)]
    if not blocks:
        return  # nothing to run in this document (its blocks are checked by the tests above)
    env = {"JUPYTER_THINK_DIR": str(tmp_path / "store"), "IPYTHONDIR": str(tmp_path / "ipython")}
    work = tmp_path / "work"
    work.mkdir()
    kernel: Kernel | None = None
    serving = ScriptedModel(MODEL_TURNS).serve()
    model = serving.__enter__()  # the OpenAI / Anthropic examples talk to it, offline
    env.update(
        {
            "OPENAI_BASE_URL": model.openai_url,
            "OPENAI_API_KEY": "docs-test",
            "ANTHROPIC_BASE_URL": model.url,
            "ANTHROPIC_API_KEY": "docs-test",
        }
    )
    try:
        for block in blocks:
            if block.kind == RUN_IN_KERNEL:
                if kernel is None:
                    kernel = Kernel(env=env, cwd=str(work))
                    kernel.start()
                result = kernel.execute(block.code)
                assert result.ok, f"{block} failed in the kernel:\n{block.code}\n{result}"
            else:
                if kernel is not None:  # what the kernel wrote is on disk before the shell reads it
                    flushed = kernel.execute("__import__('jupyter_think').get_manager().flush()")
                    assert flushed.ok, str(flushed)
                _run_shell(block, env, work)
    finally:
        if kernel is not None:
            kernel.shutdown()
        serving.__exit__(None, None, None)


def _run_shell(block: Block, env: dict[str, str], cwd: Path) -> None:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        cwd=cwd,
        env={**os.environ, **env, "PATH": path},
        input="",  # an empty pipe: `jupyter-think mcp` reads end-of-file and exits
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (
        f"{block} failed in bash (exit {done.returncode}):\n{block.code}\n"
        f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )
