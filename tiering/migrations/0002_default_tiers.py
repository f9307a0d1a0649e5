from django.db import migrations

TIERS = [
    (
        1,
        "Lowest",
        "#7b8794",
        "Customers who can easily cost the company as much as they bring in: repeated unfounded "
        "complaints to get discounts or free goods. No special offers; if they stop buying, it is no real loss.",
    ),
    (
        2,
        "Loyal",
        "#2f6fba",
        "The bulk of the business: they come back time after time for large and small purchases. "
        "Most of the marketing time and money goes to keeping and attracting them.",
    ),
    (
        3,
        "Lifetime",
        "#8a5cb8",
        "A very small share of customers: loyal, spending freely and expanding into new "
        "products. Protect them; if one stops buying, find out what made them leave.",
    ),
]


def create_tiers(apps, schema_editor):
    Tier = apps.get_model("tiering", "Tier")
    for level, name, colour, description in TIERS:
        Tier.objects.update_or_create(
            level=level, defaults={"name": name, "colour": colour, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("tiering", "0001_initial")]
    operations = [migrations.RunPython(create_tiers, migrations.RunPython.noop)]
