"""The arena leaderboards as JSON: the scopes with their latest snapshots, one scope's latest
snapshot, and any snapshot by id (old versions included). Public reads."""

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from community.models import Community
from evaluation.leaderboards.board import scope_url
from evaluation.leaderboards.live import snapshot_scope
from evaluation.leaderboards.selectors import (
    LANGUAGE_CODE,
    TOPIC_MAX_CHARS,
    scope_parse,
    snapshot_get,
    snapshot_latest,
    snapshots_latest,
)
from feedback.researchapi.api import ErrorOutputSerializer

SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
COMMUNITY = OpenApiParameter(
    "community",
    {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 60},
    description="A community's slug; left out: all communities together.",
)
SCOPE_PARAMETERS = [
    COMMUNITY,
    OpenApiParameter(
        "topic",
        {"type": "string", "minLength": 1, "maxLength": TOPIC_MAX_CHARS},
        description="A conversation topic (not with language).",
    ),
    OpenApiParameter(
        "language",
        {"type": "string", "pattern": LANGUAGE_CODE.pattern, "maxLength": 16},
        description="A language code such as en (not with topic).",
    ),
    OpenApiParameter("style", str, enum=["on", "off"], description="Style control (default off)."),
]
ERRORS = {
    400: OpenApiResponse(ErrorOutputSerializer, description="A parameter is not valid."),
    404: OpenApiResponse(ErrorOutputSerializer, description="No such community or leaderboard."),
    429: OpenApiResponse(ErrorOutputSerializer, description="Too many requests: wait `Retry-After` seconds."),
}


@extend_schema_serializer(component_name="LeaderboardSnapshotSummary")
class SnapshotSummaryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    community = serializers.CharField(source="community.slug", allow_null=True, default=None)
    category = serializers.ChoiceField(choices=["overall", "topic", "language"])
    category_value = serializers.CharField(allow_blank=True)
    style_control = serializers.BooleanField()
    version = serializers.IntegerField()
    battles_counted = serializers.IntegerField()
    models_count = serializers.IntegerField()
    code_version = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    def get_url(self, snapshot) -> str:
        return reverse("evaluation:api-leaderboard-snapshot", kwargs={"snapshot_id": snapshot.pk})

    def get_page_url(self, snapshot) -> str:
        return scope_url(snapshot_scope(snapshot))


@extend_schema_serializer(component_name="LeaderboardRating")
class RatingOutputSerializer(serializers.Serializer):
    model = serializers.CharField()
    rating = serializers.FloatField()
    lower = serializers.FloatField(help_text="2.5th percentile of the bootstrap.")
    upper = serializers.FloatField(help_text="97.5th percentile of the bootstrap.")
    rank = serializers.IntegerField(allow_null=True, help_text="Null for a provisional model.")
    battles = serializers.IntegerField()
    provisional = serializers.BooleanField()


@extend_schema_serializer(component_name="LeaderboardData")
class DataOutputSerializer(serializers.Serializer):
    format = serializers.IntegerField()
    models = serializers.ListField(child=serializers.CharField(), help_text="Best first; the matrices' order.")
    ratings = RatingOutputSerializer(many=True)
    win_rate = serializers.ListField(child=serializers.ListField(child=serializers.FloatField(allow_null=True)))
    predicted = serializers.ListField(child=serializers.ListField(child=serializers.FloatField(allow_null=True)))
    battles = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    rounds = serializers.IntegerField()
    seed = serializers.IntegerField()
    anchor = serializers.CharField(allow_null=True)
    style_coefficients = serializers.DictField(child=serializers.FloatField(allow_null=True), allow_null=True)


@extend_schema_serializer(component_name="LeaderboardSnapshot")
class SnapshotOutputSerializer(SnapshotSummaryOutputSerializer):
    inputs_digest = serializers.CharField()
    filters = serializers.DictField()
    parameters = serializers.DictField()
    data = DataOutputSerializer()


def _community(request) -> Community | None:
    slug = request.query_params.get("community")
    if slug is None:
        return None
    community = Community.objects.filter(slug=slug).first()
    if community is None:
        raise Http404(f"There is no community {slug!r}.")
    return community


class LeaderboardListApi(APIView):
    """The latest snapshot of every leaderboard (without its data)."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="leaderboards_list",
        parameters=[COMMUNITY],
        responses={200: SnapshotSummaryOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        community = _community(request)
        snapshots = snapshots_latest(community=community, every_community=community is None)
        return Response(SnapshotSummaryOutputSerializer(snapshots, many=True).data)


class LeaderboardLatestApi(APIView):
    """One leaderboard's latest snapshot, with its data."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="leaderboards_latest",
        parameters=SCOPE_PARAMETERS,
        responses={200: SnapshotOutputSerializer, **ERRORS},
    )
    def get(self, request):
        params = {key: value for key, value in request.query_params.items() if key in ("topic", "language", "style")}
        if "topic" in params and "language" in params:
            # Both are valid on their own; no leaderboard is kept for a topic within a language.
            raise Http404("There is no leaderboard of a topic in one language: ask for a topic or a language.")
        scope = scope_parse(community=_community(request), params=params)
        snapshot = snapshot_latest(scope)
        if snapshot is None:
            raise Http404("This leaderboard has no snapshot yet.")
        return Response(SnapshotOutputSerializer(snapshot).data)


class LeaderboardSnapshotApi(APIView):
    """Any snapshot by id: the latest or an earlier version."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="leaderboards_snapshot",
        parameters=[OpenApiParameter("snapshot_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: SnapshotOutputSerializer, **ERRORS},
    )
    def get(self, request, snapshot_id: int):
        return Response(SnapshotOutputSerializer(snapshot_get(snapshot_id=snapshot_id)).data)
