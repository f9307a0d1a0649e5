"""A lapse deleted or re-dated by hand forgets the lapse watch's state (migration 0005)."""

from core.triggers import Trigger

TRIGGERS = tuple(
    Trigger(
        f"churn_lapse_forget_watch_{name}", "churn_lapse", "churn_forget_lapse_watch", ("churn", "0005_lapse_watch")
    )
    for name in ("delete", "redate", "truncate")
)
