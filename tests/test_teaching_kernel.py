"""Teaching in a real kernel: the cell that loads the extension and asks a question, and plain text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kernel_harness import Kernel

pytestmark = pytest.mark.kernel


def test_a_question_in_the_cell_that_loads_the_extension_is_recorded(
    make_kernel: Callable[..., Kernel],
) -> None:
    kernel = make_kernel()
    result = kernel.execute(
        "%load_ext jupyter_think\n%think Is the cache slow?\n%think -t 3 Or is it the disk??"
    )
    assert result.ok, str(result)
    shown = result.stdout + result.plain
    assert "not found" not in shown and "Object `" not in shown
    texts = kernel.value("[t.thought for t in __import__('jupyter_think').get_manager().active.thoughts]")
    assert texts == ["Is the cache slow?", "Or is it the disk??"]
    assert "Thought 1/" in result.plain and "Is the cache slow?" in result.plain  # its card, as usual
    asked = kernel.execute("len?")  # help is IPython's again after that cell
    assert asked.ok and "len" in asked.pager


def test_plain_text_on_request_keeps_2_star_star_n_as_typed(make_kernel: Callable[..., Kernel]) -> None:
    kernel = make_kernel()
    assert kernel.execute("%load_ext jupyter_think").ok
    markdown = kernel.execute("%think Is $2^n - 1$ prime when 2**n - 1 and 2**n are?")
    assert "<strong>" in markdown.html and "<math" in markdown.html
    assert kernel.execute("%config ThinkConfig.markdown = False").ok
    plain = kernel.execute("%think Then 2**n - 1 for $n = 11$ is 2**11 - 1")
    assert plain.ok, str(plain)
    assert "2**n - 1 for " in plain.html and "<strong>" not in plain.html and "<math" in plain.html
    assert kernel.value("len(__import__('jupyter_think').get_manager().active.thoughts)") == 2  # same store
