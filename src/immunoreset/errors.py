"""The one error hierarchy of immunoreset.

Every exception the toolkit raises on purpose derives from :class:`ImmunoresetError`.
User mistakes (a missing field, an out-of-range value, a wrong unit, contradicting inputs)
raise :class:`InvalidInput`, which names the field, the value received and what was
expected; the command line prints it on one line and exits with status 2.

Data that are merely *missing* are not an error: instruments return a result with
``evaluable=False`` and a ``reason`` (see :mod:`immunoreset.instruments.base`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["ImmunoresetError", "InvalidInput", "Problem", "writing"]


class ImmunoresetError(Exception):
    """Root of every error raised by immunoreset."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: which field, which value, what was expected.

    ``location`` optionally says where the field was read from (file, row, column).
    """

    field: str
    value: Any
    expected: str
    location: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}field '{self.field}': got {_show(self.value)}, expected {self.expected}"


def _show(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = str(value) if isinstance(value, Decimal) else repr(value)
    # a long value keeps its start and its end (where a file path has its name)
    return text if len(text) <= 80 else text[:38] + "..." + text[-39:]


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


_MISSING: Any = _Missing()


class InvalidInput(ImmunoresetError, ValueError):
    """A user-supplied input is wrong.

    Carries one or more :class:`Problem` records. ``field``, ``value`` and ``expected``
    are those of the first problem, for the common single-problem case.

    >>> err = InvalidInput("pga", 3.5, "a number from 0 to 3")
    >>> str(err)
    "field 'pga': got 3.5, expected a number from 0 to 3"
    """

    MISSING = _MISSING

    def __init__(
        self,
        field: str = "",
        value: Any = _MISSING,
        expected: str = "",
        *,
        problems: Iterable[Problem] | None = None,
        location: str | None = None,
    ) -> None:
        found: list[Problem] = list(problems or [])
        if field or not found:
            found.insert(0, Problem(field, value, expected, location))
        self.problems: Sequence[Problem] = tuple(found)
        first = self.problems[0]
        self.field = first.field
        self.value = first.value
        self.expected = first.expected
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.problems)

    def with_location(self, location: str) -> InvalidInput:
        """The same problems, each prefixed with ``location`` (e.g. ``"visits.csv row 3"``)."""
        moved = [
            Problem(p.field, p.value, p.expected, f"{location}" + (f", {p.location}" if p.location else ""))
            for p in self.problems
        ]
        return InvalidInput(problems=moved)


@contextmanager
def writing(path: Any, what: str = "output") -> Iterator[None]:
    """Within the block, an operating-system error (a folder that is a file, no permission, a full disk)
    while writing ``path`` becomes one :class:`InvalidInput` naming the path, not a traceback."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidInput(what, str(path), f"a path that can be created and written ({reason})") from None
