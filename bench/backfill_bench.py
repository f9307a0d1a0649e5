"""Backfill and churn-risk figures (bench/README.md), each command in a fresh child, with the pages
the database touched (bench.harness.counting_pages):

- backfill: `manage.py backfill_tiers --months N --before <as_of>` (N: `--set backfill_months=`,
  default 24) after the retier section's first run, so the month ends replayed are the N before it:
  `seconds`, `peak_rss_mb` (target < 300 MB), `pages`, `months`, `entries` (backfilled tier changes
  written), `seconds_per_month`;
- backfill_again (`--set backfill_again=1`): the same command once more (it replaces what the first
  wrote): `seconds`, `peak_rss_mb`, `pages`, `entries`, `replaced`;
- risk_train: `manage.py churn_risk --as-of <as_of> --train` (training, then scoring everyone):
  `seconds`, `peak_rss_mb`, `pages`, and from the model row `train_rows`, `kind`, `heldout_auc`; from
  the command's own lines, training apart from scoring: `train_seconds`, `train_peak_mb`,
  `score_seconds`, `score_peak_mb` (each phase's own peak resident memory);
- risk_score: `manage.py churn_risk --as-of <as_of + 1 day>` with that model (the nightly refresh one
  day later, nothing trained): `seconds`, `peak_rss_mb`, `pages`, `rewritten` (customer risk rows it
  wrote) and `rewritten_share` of the rows stored.

Standalone, on whatever DATABASE_URL holds: `python bench/backfill_bench.py --as-of DATE`.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import counting_pages  # noqa: E402


def run(ctx) -> dict:
    months = ctx.option("backfill_months", 24)
    result = {"backfill": _backfill(ctx, months)}
    if ctx.option("backfill_again", 0):
        result["backfill_again"] = _backfill(ctx, months)
    if ctx.option("backfill_risk", 1):
        result.update(_risk(ctx))
    return result


def _measured(ctx, cmd: list[str]) -> dict:
    with ctx.connect() as conn, counting_pages(conn) as pages:
        seconds, rss = ctx.measure_subprocess(cmd)
    return {"seconds": round(seconds, 2), "peak_rss_mb": rss, "pages": pages}


def _backfill(ctx, months: int) -> dict:
    figures = _measured(ctx, ctx.manage("backfill_tiers", "--months", str(months), "--before", ctx.as_of.isoformat()))
    with ctx.connect() as conn:
        done, entries, replaced = conn.execute(
            "SELECT months, entries, replaced FROM tiering_tierbackfill ORDER BY id DESC LIMIT 1"
        ).fetchone()
    per_month = round(figures["seconds"] / done, 2) if done else None
    return {**figures, "months": done, "entries": entries, "replaced": replaced, "seconds_per_month": per_month}


def _risk(ctx) -> dict:
    train = _measured(ctx, ctx.manage("churn_risk", "--as-of", ctx.as_of.isoformat(), "--train"))
    with ctx.connect() as conn:
        kind, rows, auc = conn.execute(
            "SELECT kind, train_rows, heldout_auc FROM churn_riskmodel ORDER BY id DESC LIMIT 1"
        ).fetchone()
    train.update(kind=kind, train_rows=rows, heldout_auc=auc, **_phases(ctx.last_output))
    score = _measured(ctx, ctx.manage("churn_risk", "--as-of", (ctx.as_of + dt.timedelta(days=1)).isoformat()))
    score.update(_phases(ctx.last_output))
    written = re.search(r"(\d+) rows written", " ".join(ctx.last_output))
    with ctx.connect() as conn:
        stored = conn.execute("SELECT count(*) FROM churn_customerrisk").fetchone()[0]
    score["rewritten"] = int(written.group(1)) if written else None
    score["rewritten_share"] = round(score["rewritten"] / stored, 4) if written and stored else None
    return {"risk_train": train, "risk_score": score}


# The command's own lines: training apart from scoring, each with its own peak (core.measure).
PHASE = re.compile(r"^(Trained|Scored) in ([\d.]+) s, peak memory (\d+) MB")


def _phases(lines: list[str]) -> dict:
    found = {}
    for match in filter(None, map(PHASE.match, lines)):
        key = "train" if match[1] == "Trained" else "score"
        found |= {f"{key}_seconds": float(match[2]), f"{key}_peak_mb": int(match[3])}
    return found


if __name__ == "__main__":
    import json
    import os
    import tempfile

    from bench.harness import Context

    args = sys.argv[1:]
    as_of = dt.date.fromisoformat(args[args.index("--as-of") + 1]) if "--as-of" in args else dt.date.today()
    options = dict(a.split("=", 1) for a in args[args.index("--set") + 1 :]) if "--set" in args else {}
    ctx = Context(
        customers=0,
        lines=0,
        as_of=as_of,
        database_url=os.environ["DATABASE_URL"],
        scratch=Path(tempfile.gettempdir()),
        options=options,
    )
    print(json.dumps(run(ctx), indent=2))
