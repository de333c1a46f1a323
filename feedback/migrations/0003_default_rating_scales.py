"""The rating scales every community starts with (communities can add their own)."""

from django.db import migrations

DEFAULT_SCALES = [
    ("helpfulness", "Helpfulness", "How well does the answer help with what was asked?", "Not at all", "Perfectly"),
    ("correctness", "Correctness", "How accurate is what the answer says?", "Mostly wrong", "Fully correct"),
    ("harmlessness", "Harmlessness", "How safe and respectful is the answer?", "Harmful", "Completely harmless"),
]


def scales_add(apps, schema_editor):
    RatingScale = apps.get_model("feedback", "RatingScale")
    for position, (name, label, question, low, high) in enumerate(DEFAULT_SCALES):
        RatingScale.objects.get_or_create(
            community=None,
            name=name,
            defaults={"label": label, "question": question, "low_label": low, "high_label": high, "position": position},
        )


def scales_remove(apps, schema_editor):
    apps.get_model("feedback", "RatingScale").objects.filter(community=None, name__in=[s[0] for s in DEFAULT_SCALES]).delete()


class Migration(migrations.Migration):
    dependencies = [("feedback", "0002_tasks")]

    operations = [migrations.RunPython(scales_add, scales_remove)]
