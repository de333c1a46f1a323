from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EvaluationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "evaluation"

    def ready(self) -> None:
        from evaluation.leaderboards.schedule import leaderboards_schedule_ensure

        # The schedule follows LEADERBOARD_REFRESH_MINUTES: set after every migrate (run.sh migrates on each start).
        post_migrate.connect(leaderboards_schedule_ensure, sender=self, dispatch_uid="leaderboards_schedule_ensure")
