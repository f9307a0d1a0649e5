"""Small word lists the demo data is made of: a coffee supplier selling to offices and cafés.

Kept in code (no Faker) so the demo is deterministic across library versions and installs offline.
"""

FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Karin", "Liam",
    "Maya", "Nils", "Olivia", "Pablo", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wim", "Xenia",
    "Yusuf", "Zoe", "Amira", "Bruno", "Chloe", "Dmitri", "Emma", "Farah", "Gustav", "Hana", "Ivan", "Julia",
    "Kenji", "Lena", "Marco", "Nadia", "Oscar", "Priya", "Rafael", "Sofia", "Theo", "Ulla", "Victor", "Wanda",
    "Aisha", "Björn", "Carmen", "Daniel", "Eva", "Finn", "Gabriel", "Helena", "Isaac", "Jade", "Kofi", "Lucia",
)
LAST_NAMES = (
    "Andersen", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova", "Jansen",
    "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quinlan", "Rossi", "Schmidt", "Tanaka",
    "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zimmermann", "Ahmed", "Brennan", "Castillo", "Dahl", "Evans",
    "Ferreira", "Gallagher", "Holm", "Ibrahim", "Jensen", "Keller", "Larsen", "Meyer", "Nielsen", "O'Brien",
    "Patel", "Richter", "Santos", "Thomsen", "Urbano", "Visser", "Walsh", "Young", "Zeller",
)
COMPANY_FIRST = (
    "Harbour", "Northwind", "Copper", "Lantern", "Meadow", "Granite", "Juniper", "Bluebird", "Riverside",
    "Old Town", "Saffron", "Ember", "Maple", "Silver", "Orchard", "Beacon", "Cobalt", "Willow", "Summit",
    "Foxglove", "Station", "Market", "Canal", "Hilltop", "Corner", "Parkside", "Ironworks", "Linden",
)
COMPANY_SECOND = (
    "Café", "Coffee House", "Bakery", "Studio", "Offices", "Co-working", "Bistro", "Roasters", "Hotel",
    "Dental Clinic", "Law Partners", "Architects", "Books", "Gym", "Kitchen", "Deli", "Labs", "Agency",
)
COMPANY_SUFFIX = ("", "", "", " Ltd", " GmbH", " & Co", " AB", " BV")

# (category, [(product name, list price in whole currency units, launched N days before today or None = older)])
# Two categories are new this year (Subscriptions, Cold brew). Two launches are the "changes" the churn
# story is built around (CHANGE_PRODUCTS): several lifetime customers bought them, then stopped.
CATALOGUE = (
    ("Espresso machines", [
        ("Compact Office Espresso", 1290, None), ("Barista One", 2490, None), ("Lever Classic", 3290, None),
        ("Bean-to-cup Office", 3890, None), ("Barista Duo", 4890, None), ("Barista Pro X", 6990, 150),
    ]),
    ("Grinders", [
        ("Burr Grinder S", 390, None), ("Burr Grinder M", 690, None), ("Dosing Grinder", 990, None),
        ("Flat Burr Pro", 1490, None), ("Grinder Burr Set", 79, None), ("Silent Grinder", 1190, 90),
    ]),
    ("Coffee beans", [
        ("House Blend 1 kg", 24, None), ("Dark Roast 1 kg", 26, None), ("Ethiopia Single Origin 1 kg", 38, None),
        ("Colombia Single Origin 1 kg", 34, None), ("Decaf 1 kg", 29, None), ("Espresso Blend 5 kg", 110, None),
        ("Organic Blend 1 kg", 32, None), ("Fairtrade Blend 1 kg", 30, None), ("Seasonal Roast 1 kg", 36, 60),
    ]),
    ("Tea", [
        ("English Breakfast x100", 14, None), ("Green Sencha x100", 16, None), ("Earl Grey x100", 15, None),
        ("Chai x100", 18, None), ("Rooibos x100", 14, None), ("Matcha 250 g", 39, None),
    ]),
    ("Milk & syrups", [
        ("Barista Milk 12x1 L", 22, None), ("Oat Milk 12x1 L", 28, None), ("Vanilla Syrup", 9, None),
        ("Caramel Syrup", 9, None), ("Hazelnut Syrup", 9, None), ("Milk Jug Set", 35, None),
    ]),
    ("Cups & disposables", [
        ("Paper Cups 8 oz x1000", 65, None), ("Paper Cups 12 oz x1000", 79, None), ("Lids x1000", 35, None),
        ("Stirrers x5000", 19, None), ("Cup Sleeves x1000", 22, None), ("Compostable Cups x1000", 95, 200),
    ]),
    ("Cleaning & care", [
        ("Descaler 1 L", 19, None), ("Group Head Brushes", 12, None), ("Cleaning Tablets x100", 29, None),
        ("Milk System Cleaner", 17, None), ("Water Filter", 45, None), ("Water Filter Pro", 89, None),
    ]),
    ("Service plans", [
        ("Basic Service Plan", 390, None), ("Extended Warranty", 590, None), ("On-site Repair Visit", 180, None),
        ("Barista Training Day", 450, None), ("SmartCare Connected Plan", 690, 300),
    ]),
    ("Subscriptions", [
        ("Auto-ship Beans Subscription", 89, 330), ("Auto-ship Milk Subscription", 59, 270),
        ("Office Coffee Bundle", 149, 120),
    ]),
    ("Cold brew", [
        ("Cold Brew Tower", 890, 240), ("Cold Brew Concentrate 5 L", 45, 200), ("Nitro Kit", 390, 100),
    ]),
)
CHANGE_PRODUCTS = ("Auto-ship Beans Subscription", "SmartCare Connected Plan")
CONSUMABLES = ("Coffee beans", "Tea", "Milk & syrups", "Cups & disposables", "Cleaning & care")
EQUIPMENT = ("Espresso machines", "Grinders", "Service plans")
