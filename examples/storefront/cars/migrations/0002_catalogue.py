# ruff: noqa: RUF012 — Django migrations declare their operations as class-level lists
"""The store's stock: a handful of cars, so the example opens on a catalogue."""

from decimal import Decimal

from django.db import migrations

CARS = [
    ("Saab", "900 Turbo", "Red", "9999.00", "The seed's favourite: space for the family and a great deal."),
    ("Volvo", "240 Estate", "Navy", "7450.00", "Best-in-class safety features, and room for a wardrobe."),
    ("Škoda", "Octavia Combi", "Silver", "18900.00", "Sensible, roomy, quietly quick."),
    ("Citroën", "DS 21", "Black", "32000.00", "Hydropneumatic suspension: it floats."),
    ("Toyota", "Corolla", "White", "15400.00", "It will outlive us all."),
    ("Mazda", "MX-5", "Teal", "21500.00", "No space for the family. Great fun anyway."),
]


def add_cars(apps, schema_editor):
    Car = apps.get_model("cars", "Car")
    for brand, model, color, price, description in CARS:
        Car.objects.get_or_create(brand=brand, model=model, color=color,
                                  defaults={"price": Decimal(price), "description": description})


class Migration(migrations.Migration):
    dependencies = [("cars", "0001_initial")]
    operations = [migrations.RunPython(add_cars, migrations.RunPython.noop)]
