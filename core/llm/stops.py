"""Stop strings: an answer ends where one first appears, and the stop string itself is left out
(OpenAI's rule). Applied to whole texts and, holding back what could be the start of a stop
string, to text arriving in pieces."""

from __future__ import annotations

from collections.abc import Sequence


def first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Where the first of ``stops`` begins in ``text``, or None."""
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else None


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to its first stop string, and whether there was one."""
    at = first_stop(text, stops)
    return (text, False) if at is None else (text[:at], True)


class StopScanner:
    """Pieces in, text out, stopping at the first stop string even when it spans pieces."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.stopped = False
        self._held = ""
        self._longest = max((len(s) for s in self.stops), default=0)

    def feed(self, piece: str) -> str:
        """The text of ``piece`` that can be given out now ("" once stopped)."""
        if self.stopped:
            return ""
        if not self.stops:
            return piece
        text = self._held + piece
        at = first_stop(text, self.stops)
        if at is not None:
            self.stopped, self._held = True, ""
            return text[:at]
        hold = 0  # the longest tail of ``text`` that a stop string starts with
        for n in range(min(self._longest - 1, len(text)), 0, -1):
            if any(s.startswith(text[-n:]) for s in self.stops):
                hold = n
                break
        self._held = text[len(text) - hold :]
        return text[: len(text) - hold]

    def flush(self) -> str:
        """What was held back, at the end of the text (it was no stop string after all)."""
        rest, self._held = self._held, ""
        return "" if self.stopped else rest
