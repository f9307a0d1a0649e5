"""The lapse watch: each customer's lapse day under the policy in force (see churn.services._watched)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('churn', '0004_queue_order_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='LapseWatchState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('min_days', models.PositiveIntegerField()),
                ('gap_multiple', models.DecimalField(decimal_places=2, max_digits=4)),
                ('as_of', models.DateField()),
            ],
        ),
        migrations.CreateModel(
            name='LapseWatch',
            fields=[
                ('customer_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('lapses_on', models.DateField(help_text='Empty: no order, so never lapsed.', null=True)),
            ],
            options={
                'indexes': [models.Index(fields=['lapses_on'], name='lapsewatch_lapses_on_idx')],
            },
        ),
    ]
