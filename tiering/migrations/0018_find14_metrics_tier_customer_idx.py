"""The all-customers list sorted by tier: (tier, customer) serves ORDER BY tier, customer_id LIMIT n."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tiering", "0017_metrics_lifetime_margin_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customermetrics",
            index=models.Index(fields=["tier", "customer"], name="metrics_tier_customer_idx"),
        ),
    ]
