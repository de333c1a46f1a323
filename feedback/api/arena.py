"""The arena's REST API: read one's own battles and vote on them."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from feedback.arena.selectors import battle_get_for_judge
from feedback.arena.services import battle_vote_cast
from feedback.models import Battle
from feedback.researchapi.schema import ErrorOutputSerializer
from feedback.researchapi.throttling import throttled_rate_limit


class BattleOutputSerializer(serializers.Serializer):
    """Model names are hidden until the names of the conversation were revealed by a vote."""

    id = serializers.IntegerField()
    community = serializers.CharField(source="community.slug")
    conversation = serializers.IntegerField(source="conversation_id")
    turn = serializers.IntegerField()
    status = serializers.CharField()
    winner = serializers.CharField()
    is_blind = serializers.BooleanField()
    language = serializers.CharField()
    model_a = serializers.SerializerMethodField()
    model_b = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    voted_at = serializers.DateTimeField(allow_null=True)

    def get_model_a(self, battle: Battle) -> str | None:
        return battle.model_a.name if battle.conversation.names_revealed_at else None

    def get_model_b(self, battle: Battle) -> str | None:
        return battle.model_b.name if battle.conversation.names_revealed_at else None


class BattleDetailApi(APIView):
    @extend_schema(responses=BattleOutputSerializer)
    def get(self, request, battle_id: int):
        battle = battle_get_for_judge(judge=request.user, battle_id=battle_id)
        return Response(BattleOutputSerializer(battle).data)


class BattleVoteApi(APIView):
    """A vote. Its request budget (the token's throttle) and its rate limits (the judge's and the
    address's votes) are taken together, in one Redis round trip, before the body is read: every
    authenticated vote request counts, valid or not."""

    def check_throttles(self, request) -> None:
        throttled_rate_limit(request, self, "votes")

    @extend_schema_serializer(component_name="BattleVoteInput")
    class InputSerializer(serializers.Serializer):
        winner = serializers.ChoiceField(choices=Battle.Winner.values)
        idempotency_key = serializers.UUIDField()

    @extend_schema(
        request=InputSerializer,
        responses={
            200: BattleOutputSerializer,
            409: OpenApiResponse(
                ErrorOutputSerializer,
                description="Voted already (another key), not ready, errored, or the key was used for another vote.",
            ),
        },
    )
    def post(self, request, battle_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        battle = battle_vote_cast(judge=request.user, battle_id=battle_id, **serializer.validated_data)
        return Response(BattleOutputSerializer(battle).data)
