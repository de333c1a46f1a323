"""The baseline: DRF's CreateAPIView and a ModelSerializer, with the project's authentication,
permission and throttle defaults, and nothing else."""

from rest_framework import generics, serializers

from bench.vote_baseline.models import BaselineVote


class BaselineVoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = BaselineVote
        fields = ["id", "battle_id", "winner", "idempotency_key", "created_at"]


class BaselineVoteCreateApi(generics.CreateAPIView):
    serializer_class = BaselineVoteSerializer

    def perform_create(self, serializer):
        serializer.save(judge=self.request.user)
