"""The %think line parser: options before literal text (never after it), one-line errors."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from jupyter_think.ipython.parser import ThinkArgs, ThinkArgsError, parse_think_line

QUOTED = """Don't drop the user's "quoted" data"""


def test_text_with_quotes_apostrophes_hash_backslash_and_braces_is_literal() -> None:
    text = r"""Don't drop the user's "quoted" data # not a comment C:\temp\new $x {x} {{y}} é ✓"""
    assert parse_think_line(text) == ThinkArgs(text=text)


def test_options_before_the_text_are_consumed() -> None:
    args = parse_think_line(f"-t 4 -b alt --from 2 -s review {QUOTED}")
    assert args == ThinkArgs(text=QUOTED, total=4, branch="alt", branch_from=2, session="review")


@pytest.mark.parametrize(
    "line",
    [
        "Set the timeout with -t 30",
        "Count lines with grep -n 5",
        f"{QUOTED} --done -r 1 -q",
        "Revise it: -r 2 --from 1 -b alt -s other",
    ],
)
def test_option_looking_words_after_the_text_are_text(line: str) -> None:
    assert parse_think_line(line) == ThinkArgs(text=line)


def test_parsing_stops_at_the_first_word_that_is_not_an_option() -> None:
    args = parse_think_line("--total=5 -n 3 middle text --more --session=s1")
    assert args == ThinkArgs(text="middle text --more --session=s1", total=5, number=3)


def test_a_hash_comment_after_the_text_is_part_of_the_thought() -> None:
    assert parse_think_line("-t 2 Try it   # a note").text == "Try it   # a note"


def test_inner_whitespace_of_the_text_is_kept() -> None:
    assert parse_think_line("-q   two  spaces\tand a tab   --done").text == "two  spaces\tand a tab   --done"


def test_double_dash_ends_the_options() -> None:
    args = parse_think_line("-t 2 -- -t is literal --done")
    assert args == ThinkArgs(text="-t is literal --done", total=2)


def test_negative_numbers_and_lone_dashes_are_text() -> None:
    assert parse_think_line("-1 is the sentinel").text == "-1 is the sentinel"
    assert parse_think_line("- a bullet - point").text == "- a bullet - point"


def test_option_looking_words_inside_the_text_stay_text() -> None:
    assert parse_think_line("use grep -n pattern here").text == "use grep -n pattern here"
    assert parse_think_line("raise it by -t three").text == "raise it by -t three"
    assert parse_think_line("raise it by -t 0").text == "raise it by -t 0"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--foo some text", "--"),
        ("-x some text", "--"),
        ("-t three some text", "-t needs a whole number from 1 to 2147483647, got 'three'"),
        ("-t 0 some text", "-t needs a whole number from 1 to 2147483647, got '0'"),
        ("-r 0 some text", "-r needs a whole number from 1 to 2147483647, got '0'"),
        ("--total=-1 some text", "--total needs a whole number from 1 to 2147483647, got '-1'"),
        ("-n 2147483648 some text", "-n needs a whole number from 1 to 2147483647, got '2147483648'"),
        (
            "--amend 9223372036854775808 x",
            "--amend needs a whole number from 1 to 2147483647, got '9223372036854775808'",
        ),
        (
            "-r " + "9" * 5000 + " x",
            "-r needs a whole number from 1 to 2147483647, got '" + "9" * 37 + "'...",
        ),
        ("-t", "-t needs a value"),
        ("-b --done text", "-b needs an id"),
        ("-t 2 -t 3 text", "given twice"),
        ("", "nothing to record"),
        ("   ", "nothing to record"),
        ("-t 3 --done", "nothing to record"),
        ("--", "nothing to record"),
    ],
)
def test_user_errors_are_one_line_and_say_what_to_do(line: str, says: str) -> None:
    with pytest.raises(ThinkArgsError) as info:
        parse_think_line(line)
    message = str(info.value)
    assert says in message
    assert "\n" not in message


def test_a_number_up_to_the_largest_is_taken_with_leading_zeros() -> None:
    assert parse_think_line("--retract 00000000000000000007").retract == 7
    assert parse_think_line("-n 2147483647 the last number there is").number == 2**31 - 1


def test_cell_body_is_the_text_with_surrounding_blank_lines_stripped() -> None:
    body = "\n\n## Plan\n\n- keep `$HOME` and {x}\n  - indented\n\n"
    args = parse_think_line("-t 5 --done", body)
    assert args == ThinkArgs(text="## Plan\n\n- keep `$HOME` and {x}\n  - indented", total=5, done=True)


def test_cell_magic_refuses_text_on_its_first_line() -> None:
    with pytest.raises(ThinkArgsError, match="cell body"):
        parse_think_line("-t 2 Title here", "body")


def test_empty_cell_body_is_an_error() -> None:
    with pytest.raises(ThinkArgsError, match="nothing to record"):
        parse_think_line("", "\n  \n")


# --- properties ---------------------------------------------------------------------------------

stripped_text = st.text(min_size=1).map(str.strip).filter(bool)
options = st.fixed_dictionaries(
    {},
    optional={
        "total": st.integers(1, 10_000),
        "number": st.integers(1, 10_000),
        "revise": st.integers(1, 10_000),
        "branch": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True),
        "branch_from": st.integers(1, 10_000),
        "session": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True),
        "done": st.just(True),
        "more": st.just(True),
        "quiet": st.just(True),
    },
)
FLAG_SPELLING = {
    "total": "-t",
    "number": "--number",
    "revise": "-r",
    "branch": "--branch",
    "branch_from": "--from",
    "session": "-s",
    "done": "--done",
    "more": "--more",
    "quiet": "-q",
}


def render(chosen: dict[str, object]) -> str:
    return " ".join(
        FLAG_SPELLING[name] if value is True else f"{FLAG_SPELLING[name]} {value}"
        for name, value in chosen.items()
    )


@given(stripped_text)
def test_any_text_after_double_dash_is_recorded_byte_for_byte(text: str) -> None:
    assert parse_think_line(f"-- {text}").text == text


@given(stripped_text, options)
def test_any_text_keeps_its_bytes_with_any_leading_options(text: str, chosen: dict[str, object]) -> None:
    assert parse_think_line(f"{render(chosen)} -- {text}") == ThinkArgs(text=text, **chosen)


@given(stripped_text, options.filter(bool))
def test_options_after_text_never_eat_it(text: str, chosen: dict[str, object]) -> None:
    try:
        alone = parse_think_line(text)
    except ThinkArgsError:
        alone = None
    assume(alone == ThinkArgs(text=text))
    line = f"{text} {render(chosen)}"
    assert parse_think_line(line) == ThinkArgs(text=line)


@given(stripped_text, options)
def test_options_before_text_that_stands_alone_are_read(text: str, chosen: dict[str, object]) -> None:
    try:
        alone = parse_think_line(text)
    except ThinkArgsError:
        alone = None
    assume(alone == ThinkArgs(text=text))
    assert parse_think_line(f"{render(chosen)} {text}") == ThinkArgs(text=text, **chosen)


@given(st.text(), st.text(alphabet=" \t\n"), st.text(alphabet=" \t\n"))
def test_any_cell_body_is_recorded_exactly_but_for_surrounding_whitespace(
    body: str, before: str, after: str
) -> None:
    assume(body.strip())
    assert parse_think_line("-q", before + body + after).text == body.strip()
