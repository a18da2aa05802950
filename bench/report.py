"""The result table and JSON: each logway figure beside its same-run reference, as a ratio,
with PASS/FAIL against the target. Targets are reported, never enforced by the exit code."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Literal

TargetKind = Literal["figure_at_least", "figure_at_most", "ratio_at_least", "ratio_at_most", "info"]


@dataclass(frozen=True)
class Target:
    """What a check must meet: a bound on logway's figure or on figure / reference."""

    kind: TargetKind
    bound: float = 0.0

    def met(self, figure: float, ratio: float) -> bool | None:
        if self.kind == "figure_at_least":
            return figure >= self.bound
        if self.kind == "figure_at_most":
            return figure <= self.bound
        if self.kind == "ratio_at_least":
            return ratio >= self.bound
        if self.kind == "ratio_at_most":
            return ratio <= self.bound
        return None

    def describe(self, unit: str) -> str:
        if self.kind == "figure_at_least":
            return f">= {fmt(self.bound, unit)} {unit}"
        if self.kind == "figure_at_most":
            return f"<= {fmt(self.bound, unit)} {unit}"
        if self.kind == "ratio_at_least":
            return f"ratio >= {self.bound:g}"
        if self.kind == "ratio_at_most":
            return f"ratio <= {self.bound:g}"
        return "-"


@dataclass
class Check:
    """One row: logway's ``figure`` and the ``reference`` measured in the same run."""

    name: str
    unit: str
    target: Target
    figure: float | None = None
    reference: float | None = None
    reference_name: str = ""
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.figure is None or not self.reference:
            return None
        return self.figure / self.reference

    @property
    def result(self) -> str:
        if self.error is not None or self.figure is None:
            return "ERROR"
        if self.ratio is None and self.target.kind.startswith("ratio"):
            return "ERROR"
        met = self.target.met(self.figure, self.ratio or 0.0)
        return "info" if met is None else "PASS" if met else "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "logway": self.figure,
            "reference_name": self.reference_name,
            "reference": self.reference,
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "target": self.target.describe(self.unit),
            "result": self.result,
            "error": self.error,
        }


def fmt(value: float | None, unit: str) -> str:
    """A figure in its unit's usual precision."""
    if value is None:
        return "-"
    if unit in ("rec/s", "subs"):
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.3f}"
    return f"{value:,.1f}"


def table(checks: list[Check]) -> str:
    """A plain-text table, one check per row."""
    header = ["benchmark", "unit", "logway", "reference", "ref. value", "ratio", "target", "result"]
    rows = [header]
    for c in checks:
        ratio = "-" if c.ratio is None else f"{c.ratio:.2f}"
        rows.append(
            [
                c.name,
                c.unit,
                fmt(c.figure, c.unit),
                c.reference_name,
                fmt(c.reference, c.unit),
                ratio,
                c.target.describe(c.unit),
                c.result,
            ]
        )
    numeric = {2, 4, 5}
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in numeric and n else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    errors = [c for c in checks if c.error]
    for c in errors:
        lines.append(f"ERROR in {c.name}: {c.error}")
    return "\n".join(lines)


def write_json(path: str, document: dict[str, Any]) -> None:
    """Write ``document`` atomically (a temporary file renamed into place)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        json.dump(document, out, indent=2, sort_keys=False)
        out.write("\n")
    os.replace(tmp, path)
