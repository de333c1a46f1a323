"""`manage.py serve_models`: run the platform's OpenAI-compatible model server."""

from argparse import ArgumentParser
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from inference.builtin import builtin_model_prepare


class Command(BaseCommand):
    help = "Serve every model folder in the models folder over an OpenAI-compatible API (preparing the built-in one)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--models-dir", type=Path, default=None, help="Defaults to the MODELS_DIR setting.")

    def handle(self, *args: object, host: str, port: int, models_dir: Path | None, **options: object) -> None:
        # Imported here: torch and transformers load with the server, not with every command.
        import uvicorn

        from inference.server import create_app

        models_dir = models_dir or settings.MODELS_DIR
        self.stdout.write(f"Built-in model ready in {builtin_model_prepare(models_dir)}")
        uvicorn.run(create_app(models_dir), host=host, port=port, log_level="info")
