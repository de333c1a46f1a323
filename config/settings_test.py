"""Test settings: the same as production code paths, with fast password hashing."""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a live server thread and a Celery worker see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}  # noqa: F405

if CELERY_BROKER_URL == "filesystem://":  # noqa: F405
    # A queue folder of the tests' own, so a platform running beside them never takes their tasks.
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(DATA_DIR / "test-celery-broker")  # noqa: F405

# A cache of the run's own (Redis keeps keys between runs): API throttling starts afresh.
CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"  # noqa: F405
