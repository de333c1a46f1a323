"""`manage.py prepare_models`: convert the built-in model into the models folder, once."""

from django.conf import settings
from django.core.management.base import BaseCommand

from inference.builtin import builtin_model_prepare


class Command(BaseCommand):
    help = "Convert the built-in SmolLM2 model into MODELS_DIR (once; later runs do nothing) and print its folder."

    def handle(self, *args: object, **options: object) -> None:
        folder = builtin_model_prepare(settings.MODELS_DIR)
        self.stdout.write(str(folder))
