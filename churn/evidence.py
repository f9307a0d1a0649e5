"""The statistics of the suspects analysis, on plain counts: no ORM, no queries (docs/churn.md).

For each subject (a launch or a release) a 2x2 table: of the valuable customers exposed to it, how
many stopped buying in the window after it, against the same for those not exposed. From it:

- the lift: the risk ratio, (stopped exposed / exposed) / (stopped unexposed / unexposed);
- its 95 % interval on the log scale (Katz); with one zero cell, 0.5 is added to every cell first
  (Haldane–Anscombe), so a subject none of whose customers left still gets a finite interval;
  with nobody stopping in either group there is no ratio at all;
- a one-sided p-value from Fisher's exact test (scipy.stats.fisher_exact, alternative "greater"):
  exact at any size, so a small release is judged by its real counts, not a normal approximation;
  one-sided because only "exposed customers left more often" makes a suspect;
- q-values by Benjamini–Hochberg over every subject tested (scipy.stats.false_discovery_control):
  among the subjects flagged, at most a share FDR are expected to be flagged by chance;
- the verdict: flagged when q <= FDR, the lift is above 1, and there are at least MIN_EXPOSED
  exposed customers and MIN_LAPSED of them stopped, so a handful of customers never flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FDR = 0.05
MIN_EXPOSED = 30
MIN_LAPSED = 5
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Table:
    """Counts of one subject: exposed customers and how many stopped, the same for the others."""

    exposed: int
    lapsed_exposed: int
    unexposed: int
    lapsed_unexposed: int

    @property
    def testable(self) -> bool:
        return self.exposed > 0 and self.unexposed > 0

    @property
    def rate_exposed(self) -> float | None:
        return self.lapsed_exposed / self.exposed if self.exposed else None

    @property
    def rate_unexposed(self) -> float | None:
        return self.lapsed_unexposed / self.unexposed if self.unexposed else None

    @property
    def large_enough(self) -> bool:
        return self.exposed >= MIN_EXPOSED and self.lapsed_exposed >= MIN_LAPSED


@dataclass(frozen=True)
class Verdict:
    lift: float | None
    low: float | None
    high: float | None
    p: float | None
    q: float | None
    flagged: bool


def risk_ratio(table: Table, z: float = Z95) -> tuple[float | None, float | None, float | None]:
    """The lift and its Katz log interval; (None, None, None) when a group is empty or nobody in
    either stopped (0/0: a correction would only echo the groups' sizes)."""
    if not table.testable or table.lapsed_exposed == table.lapsed_unexposed == 0:
        return None, None, None
    a, n1 = float(table.lapsed_exposed), float(table.exposed)
    c, n0 = float(table.lapsed_unexposed), float(table.unexposed)
    if a == 0 or c == 0:
        a, n1, c, n0 = a + 0.5, n1 + 1, c + 0.5, n0 + 1
    lift = (a / n1) / (c / n0)
    se = math.sqrt(max(0.0, 1 / a - 1 / n1 + 1 / c - 1 / n0))
    return lift, math.exp(math.log(lift) - z * se), math.exp(math.log(lift) + z * se)


def p_value(table: Table) -> float | None:
    """One-sided Fisher's exact test: the chance of at least this many exposed customers stopping
    if exposure made no difference."""
    if not table.testable:
        return None
    rows = [
        [table.lapsed_exposed, table.exposed - table.lapsed_exposed],
        [table.lapsed_unexposed, table.unexposed - table.lapsed_unexposed],
    ]
    from scipy.stats import fisher_exact  # here, not at start-up: scipy.stats costs ~1 s and ~100 MB

    return float(fisher_exact(rows, alternative="greater").pvalue)


def verdicts(tables: list[Table], *, fdr: float = FDR) -> list[Verdict]:
    """One verdict per table, the false discovery rate controlled across all of them."""
    from scipy.stats import false_discovery_control

    ps = [p_value(t) for t in tables]
    tested = [p for p in ps if p is not None]
    qs = iter(false_discovery_control(tested, method="bh").tolist() if tested else [])
    result = []
    for table, p in zip(tables, ps, strict=True):
        q = next(qs) if p is not None else None
        lift, low, high = risk_ratio(table)
        flagged = q is not None and q <= fdr and lift is not None and lift > 1 and table.large_enough
        result.append(Verdict(lift=lift, low=low, high=high, p=p, q=q, flagged=flagged))
    return result


def explain(table: Table, verdict: Verdict, *, fdr: float = FDR) -> str:
    """Why a subject is or is not flagged, in a few words for the pages."""
    if verdict.flagged:
        return "flagged"
    if not table.testable:
        return "no comparison group" if table.exposed else "nobody exposed"
    if table.lapsed_exposed == table.lapsed_unexposed == 0:
        return "nobody stopped"
    if table.exposed < MIN_EXPOSED:
        return f"too few exposed (under {MIN_EXPOSED})"
    if table.lapsed_exposed < MIN_LAPSED:
        return f"too few stopped (under {MIN_LAPSED})"
    if verdict.lift is None or verdict.lift <= 1:
        return "no more than the others"
    return f"could be chance (q > {fdr:g})"
