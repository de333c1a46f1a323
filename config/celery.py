"""The Celery application. Queues: `default` for light work, `ml` for training, evaluation and
generation (acks late, prefetch 1). The schedule lives in the database (django-celery-beat)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("feedback_commons")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
