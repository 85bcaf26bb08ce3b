"""Stop strings: the answer ends before the first one, also when it arrives split in pieces."""

from __future__ import annotations

import pytest

from core.llm.stops import StopScanner, cut_at_stop

pytestmark = pytest.mark.unit


def test_cut_at_the_first_stop_string() -> None:
    assert cut_at_stop("Paris. Then Rome.", [" Then", "."]) == ("Paris", True)
    assert cut_at_stop("Paris", ["###"]) == ("Paris", False)
    assert cut_at_stop("Paris", []) == ("Paris", False)


@pytest.mark.parametrize(
    ("pieces", "stops", "expected", "stopped"),
    [
        (["The Bron", "cos won", "###", "more"], ["###"], "The Broncos won", True),
        (["The Bron", "cos #", "#", "# more"], ["###"], "The Broncos ", True),
        (["a #", "# b"], ["###"], "a ## b", False),  # held back, then given: no stop after all
        (["one", " two"], [], "one two", False),
        (["x\n", "\ny"], ["\n\n", "zz"], "x", True),
    ],
)
def test_scanner_over_pieces(
    pieces: list[str], stops: list[str], expected: str, stopped: bool
) -> None:
    scanner = StopScanner(stops)
    out = "".join(scanner.feed(p) for p in pieces) + scanner.flush()
    assert (out, scanner.stopped) == (expected, stopped)
