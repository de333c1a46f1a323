from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _sqlite_functions_register(sender, connection, **kwargs) -> None:
    """SQLite runs in the process: give each new connection the Python functions our SQL calls
    (`releases.expressions.TextKey`). Registered as the connection opens: SQLite
    refuses to add a function while one of the connection's statements is still being read."""
    if connection.vendor == "sqlite":
        from feedback.privacy.pii import text_key

        connection.connection.create_function("feedback_text_key", 1, text_key, deterministic=True)


class FeedbackConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "feedback"

    def ready(self) -> None:
        connection_created.connect(_sqlite_functions_register, dispatch_uid="feedback-sqlite-functions")
