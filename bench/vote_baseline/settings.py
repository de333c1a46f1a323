"""The platform's settings plus the baseline app and its URL (bench/vote_load.py only)."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.vote_baseline"]  # noqa: F405
ROOT_URLCONF = "bench.vote_baseline.urls"
