"""A real Celery worker whose release builds stall in their first stage, for the dead-worker test.

    python -m tests.stalled_worker [celery worker options]

It is `celery -A config worker` (the same app, settings, pool and tasks) except that a build,
once it has shown its first progress, sleeps as a long stage would: its lease thread keeps
answering until the test kills the worker's process group.
"""

import sys
import time

import django


def main() -> None:
    django.setup()
    from feedback.releases import services

    progress_show = services._progress

    def progress_then_stall(keeper, progress: int, stage: str) -> None:
        progress_show(keeper, progress, stage)
        if progress >= 5:
            time.sleep(3600)

    services._progress = progress_then_stall
    from config.celery import app

    app.worker_main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
