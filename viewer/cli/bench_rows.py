"""The PASS/FAIL tables of `bench presentation` and `bench quality`: one `Row` per measured
quantity, every pass in run order, the median judged against the issue's limit."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    """One measured quantity: `passes` in run order, in `unit` (ms, s or x); `target` the issue's
    limit, None for a row shown for information."""

    name: str
    unit: str
    passes: list[float]
    target: float | None = None

    @property
    def median(self) -> float:
        return float(statistics.median(self.passes))

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.median <= self.target


def table(title: str, rows: list[Row], passes: int) -> str:
    width = max([52, *(len(row.name) for row in rows)])
    lines = [f"{title}: median of {passes} pass(es), every pass in run order",
             f"{'measure':<{width}} {'median':>10} {'target':>11}  result  passes"]
    for row in rows:
        result = {None: "-", True: "PASS", False: "FAIL"}[row.met]
        target = "" if row.target is None else f"<= {_value(row.target, row.unit)}"
        shown = " ".join(_value(p, row.unit, bare=True) for p in row.passes)
        lines.append(f"{row.name:<{width}} {_value(row.median, row.unit):>10} {target:>11}  "
                     f"{result:<6}  {shown}")
    return "\n".join(lines)


def to_json(rows: list[Row]) -> str:
    return json.dumps({"rows": [{**asdict(row), "median": row.median, "met": row.met}
                                for row in rows]})


def _value(value: float, unit: str, bare: bool = False) -> str:
    text = f"{value:.3f}" if unit == "s" else f"{value:.2f}"
    return text if bare else f"{text} {unit}"
