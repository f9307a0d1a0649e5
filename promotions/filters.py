"""The audience of a promotion as plain values: what the selector, the export and the log share.

A saved Promotion and the `export_targets` command both turn into a `TargetFilters`, so the
page, the count, the web export and the command can only ever ask the same question.
"""

from dataclasses import asdict, dataclass, field

from tiering.tiers import LEVELS

DEFAULT_TIERS = (2, 3)  # tier 1 gets no special offers (PRODUCT.md); only when asked explicitly
TIER_LEVELS = LEVELS


@dataclass(frozen=True)
class TargetFilters:
    tiers: tuple[int, ...] = DEFAULT_TIERS
    active_within_days: int | None = None
    lapsed_over_days: int | None = None
    bought_category: str = ""
    not_bought_category: str = ""
    bought_product_id: int | None = None
    not_bought_product_id: int | None = None
    account_manager_id: int | None = None
    exclude_open_complaint: bool = False
    exclude_open_follow_up: bool = False
    lifecycle_stage: str = ""  # churn_customerrisk.stage (docs/churn-risk.md); "" = any
    include_lost: bool = False  # lost customers (promotions.followups.lost_customers) are left out unless set
    extra: dict = field(default_factory=dict, compare=False)  # never filters; room for notes in the log

    def as_json(self) -> dict:
        """What the export log keeps: only the filters in use, so a reader sees the question asked."""
        data = asdict(self)
        data.pop("extra")
        data["tiers"] = sorted(self.tiers)
        return {key: value for key, value in data.items() if key == "tiers" or value not in (None, "", False)}


def parse_tiers(raw: str) -> tuple[int, ...]:
    """ "2,3" -> (2, 3). Raises ValueError naming the bad part, for the command and the form."""
    levels = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) not in TIER_LEVELS:
            raise ValueError(f"{part!r} is not a tier level: use 1, 2 or 3, comma-separated (e.g. 2,3).")
        levels.append(int(part))
    if not levels:
        raise ValueError("no tier given: use 1, 2 or 3, comma-separated (e.g. 2,3).")
    return tuple(sorted(set(levels)))


_WORDING = {
    "active_within_days": "ordered within {} days",
    "lapsed_over_days": "no order for more than {} days",
    "bought_category": "bought in {}",
    "not_bought_category": "never bought in {}",
    "bought_product_id": "bought product #{}",
    "not_bought_product_id": "never bought product #{}",
    "account_manager_id": "account manager #{}",
    "exclude_open_complaint": "no pending complaint",
    "exclude_open_follow_up": "no open follow-up",
    "lifecycle_stage": "lifecycle stage {}",
    "include_lost": "lost customers included",
}


def describe(filters_json: dict) -> str:
    """A logged filter set as a reader would say it: "tiers 2, 3 · ordered within 30 days"."""
    parts = ["tiers " + ", ".join(str(level) for level in filters_json.get("tiers", []))]
    for key, wording in _WORDING.items():
        if key in filters_json:
            parts.append(wording.format(filters_json[key]))
    return " · ".join(parts)
