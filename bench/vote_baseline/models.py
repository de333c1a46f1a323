from django.conf import settings
from django.db import models


class BaselineVote(models.Model):
    """What a vote stores, in a table of its own: who, which battle, the verdict, the key."""

    judge = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    battle_id = models.BigIntegerField()
    winner = models.CharField(max_length=20)
    idempotency_key = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "vote_baseline"
        constraints = [models.UniqueConstraint(fields=["judge", "idempotency_key"], name="baseline_unique_key")]

    def __str__(self) -> str:
        return f"{self.winner} on battle {self.battle_id}"
