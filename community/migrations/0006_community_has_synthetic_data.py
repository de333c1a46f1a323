from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0005_sanctions"),
    ]

    operations = [
        migrations.AddField(
            model_name="community",
            name="has_synthetic_data",
            field=models.BooleanField(
                default=False,
                help_text="Its pool holds synthetic data (manage.py demo_data): its pages and releases say so.",
            ),
        ),
    ]
