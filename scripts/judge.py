"""Judge today's tiers and churn rule on a shape (scripts/shapes.py), the way a new business would meet them.

    python scripts/judge.py SHAPE [SHAPE ...] [--customers N] [--seed S] [--horizon-days H]

For each shape: write its CSVs, drop and create its own database `tb_shapes_<shape>` (on the server of
`JUDGE_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/), migrate it, load the files with the
real `manage.py import_data`, then

1. **backtest** (issue 12's method), on a copy `tb_shapes_<shape>_backtest` of the loaded database:
   `manage.py retier --as-of SPLIT` with SPLIT = the log's end − H days,
   so every metric sees only the history; the truth is who bought again in the H days after SPLIT (from
   the log itself) and, on synthetic shapes, who the generator planted as gone for good by SPLIT
   (`truth.csv`). It prints the lapse rule's precision and recall, and the ROC AUC of its score (silence ÷
   lapse threshold) against plain days since last order, on everyone with an order and on repeat buyers;
2. **pyramid**: `manage.py retier --as-of END` and, per tier, the share of customers, of 12-month revenue
   and of 12-month net margin (where the shape has costs), and whether issue 11's bar is met: tier 3
   holds 0.5%-15% of customers and at least three times its share of revenue;
3. **currency**: for a shape that draws the same business as another in another currency unit
   (`small-currency`, `big-currency`), how many customers got a different tier than in that shape's
   last judgment (same size and seed).

Everything printed is also written to `var/shapes/<dir>/judgment.json` (and the tiers to tiers.csv).
Databases are left in place for a look afterwards (`DATABASE_URL=.../tb_shapes_base python manage.py
runserver`); `--drop` removes them at the end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from churn.policy import is_lapsed, lapse_threshold  # noqa: E402  (pure functions, no Django needed)
from scripts import shapes  # noqa: E402

SERVER = os.environ.get("JUDGE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/").rstrip("/")
DEFAULT_HORIZON = 273  # 39 weeks: issue 12's split of the CDNOW log (39 weeks of history, 39 of truth)
BAR = {"min_share": 0.005, "max_share": 0.15, "revenue_ratio": 3}  # issue 11's pyramid bar


# --- the database and the real commands ---------------------------------------------------------


def database_name(shape: str) -> str:
    return os.environ.get("JUDGE_DATABASE_PREFIX", "tb_shapes_") + shape.replace("-", "_")


def recreate_database(name: str) -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def copy_database(name: str, *, to: str) -> str:
    """A file-level copy of a loaded database, so that each run in it is a business's first run."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{to}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{to}" TEMPLATE "{name}"')
    return f"{SERVER}/{to}"


def drop_database(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(url: str, *args: str) -> str:
    """Run a manage.py command on the shape's database (tasks eager, no broker); its stdout."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local", "REDIS_URL": ""}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def load(url: str, directory: Path) -> list[str]:
    manage(url, "migrate", "--noinput", "-v", "0")
    return [manage(url, "import_data", kind, str(directory / f"{kind}.csv")).strip() for kind in shapes.KINDS]


DEMO = "demo"  # our own generator, judged beside the shapes for comparison only: never tune to it


def seed_demo(url: str, *, customers: int, seed: int) -> tuple[Path, dict, list[str]]:
    """`manage.py seed_demo` into the database, its newest orders on shapes.END like the shapes'."""
    directory = ROOT / "var" / "shapes" / f"{DEMO}-{customers}-s{seed}"
    directory.mkdir(parents=True, exist_ok=True)
    manage(url, "migrate", "--noinput", "-v", "0")
    today = shapes.END + dt.timedelta(days=1)  # seed_demo's newest data is from the day before `today`
    output = manage(url, "seed_demo", "--customers", str(customers), "--seed", str(seed), "--today", str(today))
    with psycopg.connect(url) as conn:
        first = conn.execute("SELECT MIN(placed_at)::date FROM customers_orderline").fetchone()[0]
    about = "our own seed_demo (for comparison; the truth rule forbids tuning to it)"
    meta = {"shape": DEMO, "about": about, "customers": customers, "seed": seed, "start": str(first)}
    meta |= {"end": str(shapes.END), "costs": True, "money_factor": "1", "draws_as": DEMO, "planted_truth": False}
    return directory, meta, [output.strip().splitlines()[0]]


# --- reading what a run left ----------------------------------------------------------------------

METRICS_SQL = """
SELECT c.external_id, m.tier, m.revenue, m.net_margin, m.orders, m.median_gap_days,
       %(as_of)s::date - (m.last_order_at AT TIME ZONE 'UTC')::date AS days_since_last_order
FROM customers_customer c JOIN tiering_customermetrics m ON m.customer_id = c.id
"""
CAME_BACK_SQL = """
SELECT DISTINCT c.external_id FROM customers_orderline l JOIN customers_customer c ON c.id = l.customer_id
WHERE l.placed_at >= %(after)s::date + 1 AND l.placed_at < %(until)s::date + 1
"""


@dataclass
class Row:
    external_id: str
    tier: int
    revenue: Decimal
    net_margin: Decimal
    orders: int  # in the 12 months
    median_gap_days: Decimal | None
    days_since_last_order: int | None


def read_rows(url: str, as_of: dt.date) -> list[Row]:
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return [Row(*r) for r in conn.execute(METRICS_SQL, {"as_of": as_of}).fetchall()]


def came_back(url: str, after: dt.date, until: dt.date) -> set[str]:
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return {r[0] for r in conn.execute(CAME_BACK_SQL, {"after": after, "until": until})}


def ruleset_version(url: str) -> int | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT version FROM tiering_ruleset WHERE status = 'published'").fetchone()
    return row[0] if row else None


def churn_policy(url: str) -> tuple[int, Decimal]:
    """The policy in force; a database that never ran detection holds none yet: the model's defaults."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT min_days, gap_multiple FROM churn_churnpolicy WHERE id = 1").fetchone()
    return (row[0], row[1]) if row else (90, Decimal("2.50"))


# --- the judgments ---------------------------------------------------------------------------------


def pyramid(rows: list[Row], *, costs: bool) -> dict:
    total_revenue = sum(r.revenue for r in rows) or Decimal(1)
    total_margin = sum(r.net_margin for r in rows) or Decimal(1)
    tiers = {}
    for level in (3, 2, 1):
        held = [r for r in rows if r.tier == level]
        tiers[level] = {
            "customers": len(held),
            "customer_share": len(held) / max(len(rows), 1),
            "revenue_share": float(sum(r.revenue for r in held) / total_revenue),
            "margin_share": float(sum(r.net_margin for r in held) / total_margin) if costs else None,
            "no_order_in_12_months": sum(r.orders == 0 for r in held),
        }
    top = tiers[3]
    share_ok = BAR["min_share"] <= top["customer_share"] <= BAR["max_share"]
    ratio = top["revenue_share"] / top["customer_share"] if top["customers"] else 0.0
    return {"tiers": tiers, "tier3_revenue_ratio": ratio, "meets_bar": share_ok and ratio >= BAR["revenue_ratio"]}


def backtest(rows: list[Row], *, returned: set[str], gone_for_good: set[str] | None, policy) -> dict:
    """Who the lapse rule flags at SPLIT against who did not buy in the next H days (and the planted truth)."""
    min_days, gap_multiple = policy
    buyers = [r for r in rows if r.days_since_last_order is not None]
    scored = []
    for r in buyers:
        threshold = lapse_threshold(min_days=min_days, gap_multiple=gap_multiple, median_gap_days=r.median_gap_days)
        lapsed = is_lapsed(
            days_since_last_order=r.days_since_last_order,
            min_days=min_days,
            gap_multiple=gap_multiple,
            median_gap_days=r.median_gap_days,
        )
        scored.append((r, lapsed, float(r.days_since_last_order / threshold)))
    result = {}
    for population, keep in (("all buyers", lambda r: True), ("repeat buyers", lambda r: r.median_gap_days)):
        chosen = [s for s in scored if keep(s[0])]
        result[population] = _scores(chosen, {r.external_id for r, *_ in chosen} - returned)
        if gone_for_good is not None:
            result[population + ", planted truth"] = _scores(chosen, gone_for_good)
    result["lapsed at split, by tier"] = {
        level: _came_back_unprompted([s for s in scored if s[0].tier == level], returned) for level in (3, 2, 1)
    }
    return result


def _scores(scored: list, positives: set[str]) -> dict:
    """ROC AUC of the lapse score and of days since last order; precision/recall of the lapse flag."""
    truth = [r.external_id in positives for r, *_ in scored]
    flagged = [lapsed for _, lapsed, _ in scored]
    hits = sum(t and f for t, f in zip(truth, flagged))
    precision = hits / max(sum(flagged), 1)
    recall = hits / max(sum(truth), 1)
    every = sum(truth) / max(len(truth), 1)  # the F1 of flagging everyone: precision = base rate, recall 1
    both = 0 < sum(truth) < len(truth)
    return {
        "customers": len(scored),
        "did_not_buy": sum(truth),
        "flagged": sum(flagged),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if hits else 0.0,
        "f1_flag_everyone": 2 * every / (every + 1) if every else 0.0,
        "auc_lapse_score": roc_auc_score(truth, [s for *_, s in scored]) if both else None,
        "auc_days_since": roc_auc_score(truth, [r.days_since_last_order for r, *_ in scored]) if both else None,
    }


def _came_back_unprompted(held: list, returned: set[str]) -> dict:
    """Of a tier's buyers at SPLIT: how many the lapse rule flags, and how many of those bought again anyway."""
    lapsed = [r for r, flagged, _ in held if flagged]
    back = sum(r.external_id in returned for r in lapsed)
    share = back / len(lapsed) if lapsed else None
    return {"buyers": len(held), "lapsed": len(lapsed), "came_back": back, "came_back_share": share}


def planted_gone(directory: Path, split: dt.date) -> set[str]:
    """Customers the generator stopped for good at or before SPLIT (their last order ever)."""
    with open(directory / "truth.csv", newline="") as handle:
        return {r["external_id"] for r in csv.DictReader(handle) if r["stopped_on"] and r["stopped_on"] <= str(split)}


def currency_check(directory: Path, meta: dict, tiers: dict[str, int]) -> dict | None:
    """Customers whose tier differs from the same business judged in its own currency."""
    if meta["money_factor"] == "1":
        return None
    twin = shapes.shape_dir(meta["draws_as"], customers=meta["customers"], seed=meta["seed"]) / "tiers.csv"
    if not twin.exists():
        return {"compared_with": meta["draws_as"], "missing": f"judge {meta['draws_as']} at the same size first"}
    with open(twin, newline="") as handle:
        theirs = {r["external_id"]: int(r["tier"]) for r in csv.DictReader(handle)}
    differ = sum(theirs.get(k) != v for k, v in tiers.items())
    return {"compared_with": meta["draws_as"], "customers": len(tiers), "different_tier": differ}


# --- one shape, end to end --------------------------------------------------------------------------


def judge(shape: str, *, customers: int | None, seed: int, horizon: int, drop: bool) -> dict:
    started = time.monotonic()
    name = database_name(shape)
    url = recreate_database(name)
    if shape == DEMO:
        directory, meta, imports = seed_demo(url, customers=customers or 5000, seed=seed)
    else:
        directory = shapes.shape_dir(shape, customers=customers, seed=seed)
        meta = shapes.write_shape(shape, out=directory, customers=customers, seed=seed)
        imports = load(url, directory)
    end, start = dt.date.fromisoformat(meta["end"]), dt.date.fromisoformat(meta["start"])
    horizon = min(horizon, ((end - start).days + 1) // 2)  # CDNOW: 39 weeks of history, 39 of truth
    split = end - dt.timedelta(days=horizon)
    report = {"meta": meta, "database": name, "imports": imports, "split": str(split), "horizon_days": horizon}

    # Two first runs, each on its own copy: a run at SPLIT before the one at END would hold some
    # customers in their SPLIT tier by downgrade grace, and the reverse order would run back in time.
    split_url = copy_database(name, to=f"{name}_backtest")
    manage(split_url, "retier", "--as-of", str(split))
    rows = read_rows(split_url, split)
    gone = planted_gone(directory, split) if meta["planted_truth"] else None
    returned = came_back(split_url, split, end)
    report["backtest"] = backtest(rows, returned=returned, gone_for_good=gone, policy=churn_policy(split_url))

    manage(url, "retier", "--as-of", str(end))
    rows = read_rows(url, end)
    report["ruleset"] = ruleset_version(url)
    report["pyramid"] = pyramid(rows, costs=meta["costs"])
    tiers = {r.external_id: r.tier for r in rows}
    _write_tiers(directory / "tiers.csv", tiers)
    report["currency"] = currency_check(directory, meta, tiers)
    report["seconds"] = round(time.monotonic() - started, 1)
    (directory / "judgment.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    if drop:
        drop_database(name)
        drop_database(f"{name}_backtest")
    return report


def _write_tiers(path: Path, tiers: dict[str, int]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("external_id", "tier"))
        writer.writerows(sorted(tiers.items()))


# --- printing -----------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def show(report: dict) -> str:
    meta, p = report["meta"], report["pyramid"]
    out = [
        f"## {meta['shape']}: {meta['customers']:,} customers, {meta['start']} to {meta['end']}"
        f" (seed {meta['seed']}, rule set v{report['ruleset']}, {report['seconds']} s)",
        "",
        f"Pyramid as of {meta['end']}:",
        "",
        "| tier | customers | share | 12-month revenue | 12-month net margin | of them with no order in 12 months |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for level, t in p["tiers"].items():
        out.append(
            f"| {level} | {t['customers']:,} | {_pct(t['customer_share'])} | {_pct(t['revenue_share'])}"
            f" | {_pct(t['margin_share'])} | {t['no_order_in_12_months']:,} |"
        )
    verdict = "meets" if p["meets_bar"] else "FAILS"
    out += ["", f"Tier 3 revenue ÷ customer share: {p['tier3_revenue_ratio']:.1f}x — {verdict} issue 11's bar."]
    if report["currency"]:
        c = report["currency"]
        same = c.get("missing") or f"{c['different_tier']:,} of {c['customers']:,} customers in another tier"
        out.append(f"Against {c['compared_with']} (same business, other currency unit): {same}.")
    out += [
        "",
        f"Backtest: history to {report['split']}, truth = no order in the next {report['horizon_days']} days:",
        "",
        "| population | customers | did not buy | lapse flagged | precision | recall | F1 | F1 flag-all"
        " | AUC lapse score | AUC days since |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for population, s in report["backtest"].items():
        if population.startswith("lapsed at split"):
            continue
        out.append(
            f"| {population} | {s['customers']:,} | {s['did_not_buy']:,} | {s['flagged']:,} | {_num(s['precision'])}"
            f" | {_num(s['recall'])} | {_num(s['f1'])} | {_num(s['f1_flag_everyone'])}"
            f" | {_num(s['auc_lapse_score'])} | {_num(s['auc_days_since'])} |"
        )
    lapsed = report["backtest"]["lapsed at split, by tier"]
    out += ["", "At the split, by tier: buyers, flagged lapsed, and of those, bought again within the horizon:", ""]
    out += [
        "| tier at split | buyers | lapsed | share of tier | came back | share of lapsed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for level, v in lapsed.items():
        of_tier = v["lapsed"] / v["buyers"] if v["buyers"] else None
        out.append(
            f"| {level} | {v['buyers']:,} | {v['lapsed']:,} | {_pct(of_tier)} | {v['came_back']:,}"
            f" | {_pct(v['came_back_share'])} |"
        )
    out.append("")
    return "\n".join(out)


def summary(reports: list[dict]) -> str:
    """One line per shape: the pyramid, then the lapse rule on repeat buyers."""
    out = [
        "## Summary: tiers",
        "",
        "| shape | customers | tier 3 | tier 2 | tier 1 | tier 3 revenue | ratio | bar | other tier than in its own currency |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in reports:
        t, c = r["pyramid"]["tiers"], r["currency"] or {}
        moved = f"{c['different_tier']:,}" if "different_tier" in c else "—"
        out.append(
            f"| {r['meta']['shape']} | {r['meta']['customers']:,} | {_pct(t[3]['customer_share'])}"
            f" | {_pct(t[2]['customer_share'])} | {_pct(t[1]['customer_share'])} | {_pct(t[3]['revenue_share'])}"
            f" | {r['pyramid']['tier3_revenue_ratio']:.1f}x | {'meets' if r['pyramid']['meets_bar'] else 'fails'}"
            f" | {moved} |"
        )
    out += [
        "",
        "## Summary: the lapse rule on repeat buyers (truth: no order in the horizon; planted: gone for good)",
        "",
        "| shape | repeat buyers | did not buy | precision | recall | F1 | F1 flag-all | AUC lapse score"
        " | AUC days since | planted: AUC lapse score | planted: AUC days since |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        s, p = r["backtest"]["repeat buyers"], r["backtest"].get("repeat buyers, planted truth", {})
        out.append(
            f"| {r['meta']['shape']} | {s['customers']:,} | {s['did_not_buy']:,} | {_num(s['precision'])}"
            f" | {_num(s['recall'])} | {_num(s['f1'])} | {_num(s['f1_flag_everyone'])} | {_num(s['auc_lapse_score'])}"
            f" | {_num(s['auc_days_since'])} | {_num(p.get('auc_lapse_score'))} | {_num(p.get('auc_days_since'))} |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shapes", nargs="+", choices=[*sorted(shapes.SHAPES), DEMO], metavar="SHAPE")
    parser.add_argument("--customers", type=int, help="population size (default: each shape's own)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon-days", type=int, default=DEFAULT_HORIZON)
    parser.add_argument("--drop", action="store_true", help="drop each shape's database when judged")
    args = parser.parse_args(argv)
    reports = []
    for shape in args.shapes:
        try:
            report = judge(shape, customers=args.customers, seed=args.seed, horizon=args.horizon_days, drop=args.drop)
        except shapes.CdnowUnavailable as exc:
            print(exc, file=sys.stderr)
            return 1
        print(show(report), flush=True)
        reports.append(report)
    if len(reports) > 1:
        print(summary(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
