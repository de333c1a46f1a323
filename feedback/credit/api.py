"""The contributor leaderboard as JSON: public, like the page."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from feedback.credit.points import DEFAULT_PERIOD, PERIOD_KEYS
from feedback.credit.selectors import leaderboard_get


class LeaderboardApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        period = serializers.ChoiceField(
            choices=PERIOD_KEYS,
            default=DEFAULT_PERIOD,
            error_messages={"invalid_choice": f'Unknown period "{{input}}"; choose one of {", ".join(PERIOD_KEYS)}.'},
        )

    @extend_schema_serializer(component_name="Leaderboard")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="LeaderboardEntry")
        class EntrySerializer(serializers.Serializer):
            rank = serializers.IntegerField()
            name = serializers.CharField()
            points = serializers.IntegerField()
            level = serializers.CharField(allow_null=True)

        period = serializers.CharField(source="period.key")
        entries = EntrySerializer(many=True)

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request):
        # A plain dict: an empty `period=` is then refused, not taken for the default.
        serializer = self.InputSerializer(data=request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        board = leaderboard_get(period=serializer.validated_data["period"])
        return Response(self.OutputSerializer(board).data)
