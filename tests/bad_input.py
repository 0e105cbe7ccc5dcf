"""Shared by the table-driven bad-input tests (tests/test_bad_input_*.py).

Each table is a list of `Case(name, input, outcome)`; the outcome is either `Error(type, pattern)`: a
clear error, one short message matching `pattern`, with no chained traceback, or `Accepted(check)`:
the input is harmless and gives the right result (`check(result)` asserts it). Add a row to a table
to try a new bad input. `python tests/bad_input.py` counts the rows of every table by outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from script_module import load_script

MAX_MESSAGE = 700  # characters: one short message, not a wall of text


@dataclass(frozen=True)
class Error:
    type: type[BaseException]
    pattern: str  # a regex the message must contain: what is wrong, where, and the fix

    def check(self, call: Callable[[], Any]) -> BaseException:
        with pytest.raises(self.type) as info:
            call()
        err = info.value
        message = str(err)
        assert re.search(self.pattern, message, re.DOTALL), f"{self.pattern!r} not in message:\n{message}"
        assert len(message) <= MAX_MESSAGE, f"message of {len(message)} characters:\n{message}"
        assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__), (
            f"chained traceback behind: {err.__context__!r}")
        return err


@dataclass(frozen=True)
class Accepted:
    expect: Callable[[Any], Any] | None = None  # asserts the result is the right one

    def check(self, call: Callable[[], Any]) -> Any:
        result = call()
        if self.expect is not None:
            verdict = self.expect(result)
            assert verdict is None or verdict, f"wrong result: {result!r}"
        return result


@dataclass(frozen=True)
class Case:
    name: str
    input: Any
    outcome: Error | Accepted


def cases(table: list[Case]):
    """`@pytest.mark.parametrize("case", **cases(TABLE))`: one test per row, named after it."""
    return {"argvalues": table, "ids": [c.name for c in table]}


def tally() -> dict[str, dict[str, int]]:
    """{test module: {'clear error': n, 'accepted': n}} over every table in tests/test_bad_input_*.py."""
    from pathlib import Path

    counts = {}
    for path in sorted(Path(__file__).parent.glob("test_bad_input_*.py")):
        module = load_script(path)
        rows = [c for value in vars(module).values() if isinstance(value, list)
                for c in value if type(c).__name__ == "Case"]  # by name: run as a script, this is __main__.Case
        counts[path.stem] = {"clear error": sum(type(c.outcome).__name__ == "Error" for c in rows),
                             "accepted": sum(type(c.outcome).__name__ == "Accepted" for c in rows)}
    return counts


if __name__ == "__main__":
    import sys

    sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parents[i]) for i in (0, 1)]
    table = tally()
    for name, row in table.items():
        print(f"{name:<36} {row['clear error']:>4} clear errors {row['accepted']:>4} accepted")
    print(f"{'total':<36} {sum(r['clear error'] for r in table.values()):>4} clear errors "
          f"{sum(r['accepted'] for r in table.values()):>4} accepted")
