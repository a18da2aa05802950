"""The error a malformed pattern raises, naming where in the pattern it is."""

from __future__ import annotations

from logway.errors import InvalidArgumentError


class PatternError(InvalidArgumentError):
    """An event pattern is malformed.

    ``path`` is the dotted field path where the problem is (``""`` for the
    pattern as a whole), ``problem`` says what is wrong, and ``index`` is the
    position of the pattern in the list given to :func:`compile_filters`.
    """

    def __init__(self, problem: str, path: str = "", index: int | None = None) -> None:
        self.problem = problem
        self.path = path
        self.index = index
        where = "event pattern" if index is None else f"event pattern #{index}"
        if path:
            where += f" at `{path}`"
        super().__init__(f"{where}: {problem}")
