"""CustomerMetrics.as_of is the as-of date of the last run that changed the row: named so."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tiering", "0010_tier_counts")]

    operations = [
        migrations.RenameField(model_name="customermetrics", old_name="as_of", new_name="changed_as_of"),
        migrations.AlterField(
            model_name="customermetrics",
            name="changed_as_of",
            field=models.DateField(help_text="The as-of date of the last run that changed this row."),
        ),
    ]
