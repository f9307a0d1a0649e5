"""Signals of the churn app, and the values they carry.

`follow_up_closed(sender=FollowUp, closed=FollowUpClosed(...))` is sent when a person closes a
follow-up (won back, lost, dismissed), inside the change's transaction; a receiver that acts on it
outside the database queues its work with `transaction.on_commit`. Items closed by the nightly run
(the customer returned) are not sent one by one: the run's hand-off (tiering.signals) covers them.
"""

from dataclasses import dataclass

from django.dispatch import Signal

follow_up_closed = Signal()


@dataclass(frozen=True)
class FollowUpClosed:
    follow_up_id: int
    status: str
