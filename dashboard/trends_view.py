"""The trends as the pages draw them: chart series and table rows (no queries)."""

from .trends import MonthTrend


def trends_context(trends: list[MonthTrend], tiers: dict) -> dict:
    """Rows for the table and the series for Chart.js (written with json_script), highest tier first."""
    levels = sorted({level for t in trends for level in t.levels} | set(tiers), reverse=True)
    names = {level: tiers[level].name if level in tiers else f"Tier {level}" for level in levels}
    rows = [
        {
            "month": t.month,
            "sizes": [t.sizes.get(level, 0) for level in levels],
            "shares": None if t.margin_share is None else [t.margin_share.get(level, 0.0) for level in levels],
            "lapses": t.lapses,
            "win_backs": t.win_backs,
        }
        for t in trends
    ]
    chart = {
        "months": [t.month.strftime("%b %Y") for t in trends],
        "levels": levels,
        "names": [names[level] for level in levels],
        "sizes": [[t.sizes.get(level, 0) for t in trends] for level in levels],
        "shares": [
            [None if t.margin_share is None else round(t.margin_share.get(level, 0.0) * 100, 1) for t in trends]
            for level in levels
        ],
        "lapses": [t.lapses for t in trends],
        "win_backs": [t.win_backs for t in trends],
    }
    return {"trend_rows": rows, "trend_levels": [(level, names[level]) for level in levels], "trend_chart": chart}
