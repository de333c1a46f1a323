"""The researchers' REST API for the live pool: `GET /api/v1/pool/<kind>/`, filtered and paged.

One endpoint per kind of record (battles, preferences, unpaired, message_trees, claims), each
answering the rows a release file of that kind holds, so its schema is exact. Filters are
validated (a wrong type, a wrong range, an unknown community or a filter a kind does not take
is a 400 that says what to change); pages follow a cursor on the primary key, so a walk over
`next` links sees every row exactly once even while the pool grows.
"""

import re
from datetime import UTC, datetime, time

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.views import APIView

from community.errors import RequestRejected
from feedback.releases.formats import CLAIM_LABELS, WINNERS
from feedback.researchapi.schema import ErrorOutputSerializer
from feedback.researchapi.selectors import (
    ALL_FILTERS,
    POOL_KINDS,
    PoolFilters,
    pool_community_get,
    pool_kind_get,
    pool_may_read,
    pool_records,
    pool_rows,
)

PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
PAGING_PARAMETERS = ("cursor", "page_size")
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
# A cursor's position is a primary key: a 64-bit integer at most.
_POSITION = re.compile(r"[0-9]{1,19}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


ERRORS = {
    400: OpenApiResponse(ErrorOutputSerializer, description="A filter, the cursor or the page size is not valid."),
    401: OpenApiResponse(ErrorOutputSerializer, description="No token, or an unknown or revoked one."),
    403: OpenApiResponse(ErrorOutputSerializer, description="The account may not read the live pool."),
    404: OpenApiResponse(ErrorOutputSerializer, description="No such kind."),
    429: OpenApiResponse(ErrorOutputSerializer, description="Too many requests: wait `Retry-After` seconds."),
}
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds until this token (or address) may make requests again.",
)


# The records, field for field the columns of `feedback.releases.formats.SCHEMAS`.


@extend_schema_serializer(component_name="ChatMessage")
class ChatMessageOutputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["user", "assistant"])
    content = serializers.CharField()


@extend_schema_serializer(component_name="BattleRecord")
class BattleRecordOutputSerializer(serializers.Serializer):
    """A vote in FastChat's arena-battle shape."""

    id = serializers.CharField()
    model_a = serializers.CharField()
    model_b = serializers.CharField()
    winner = serializers.ChoiceField(choices=WINNERS)
    judge = serializers.CharField(help_text="The voter's pseudonym (stable in the live pool, per release in releases).")
    conversation_a = ChatMessageOutputSerializer(many=True)
    conversation_b = ChatMessageOutputSerializer(many=True)
    turn = serializers.IntegerField()
    anony = serializers.BooleanField(help_text="True when the vote was blind.")
    language = serializers.CharField()
    tstamp = serializers.FloatField(help_text="When the vote was cast, in seconds since 1970 (UTC).")
    community = serializers.CharField()
    licence = serializers.CharField()


@extend_schema_serializer(component_name="PreferenceRecord")
class PreferenceRecordOutputSerializer(serializers.Serializer):
    """A preference pair in TRL's conversational format."""

    id = serializers.CharField()
    source = serializers.ChoiceField(choices=["arena", "correction"])
    prompt = ChatMessageOutputSerializer(many=True)
    chosen = ChatMessageOutputSerializer(many=True)
    rejected = ChatMessageOutputSerializer(many=True)
    community = serializers.CharField()
    language = serializers.CharField()
    licence = serializers.CharField()


@extend_schema_serializer(component_name="UnpairedRecord")
class UnpairedRecordOutputSerializer(serializers.Serializer):
    """A rated answer in TRL's unpaired preference format (for KTO)."""

    id = serializers.CharField()
    prompt = ChatMessageOutputSerializer(many=True)
    completion = ChatMessageOutputSerializer(many=True)
    label = serializers.BooleanField()
    score = serializers.FloatField(help_text="The mean helpfulness rating (1 to 5).")
    community = serializers.CharField()
    language = serializers.CharField()
    licence = serializers.CharField()


@extend_schema_serializer(component_name="MessageLabel")
class MessageLabelOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.FloatField()


@extend_schema_serializer(component_name="MessageTreeRecord")
class MessageTreeRecordOutputSerializer(serializers.Serializer):
    """A message in OpenAssistant's flat message-tree shape."""

    message_id = serializers.CharField()
    parent_id = serializers.CharField(allow_null=True)
    conversation_id = serializers.CharField()
    role = serializers.ChoiceField(choices=["prompter", "assistant"])
    text = serializers.CharField()
    lang = serializers.CharField()
    rank = serializers.FloatField(allow_null=True)
    labels = MessageLabelOutputSerializer(many=True)
    author = serializers.CharField(allow_null=True, help_text="The writer's pseudonym; null for a model's answer.")
    model = serializers.CharField(allow_null=True)
    synthetic = serializers.BooleanField()
    created_date = serializers.DateTimeField()
    review_count = serializers.IntegerField()
    community = serializers.CharField()
    licence = serializers.CharField()


@extend_schema_serializer(component_name="ClaimVote")
class ClaimVoteOutputSerializer(serializers.Serializer):
    label = serializers.ChoiceField(choices=CLAIM_LABELS)
    count = serializers.IntegerField()


@extend_schema_serializer(component_name="Claim")
class ClaimOutputSerializer(serializers.Serializer):
    text = serializers.CharField()
    label = serializers.ChoiceField(choices=CLAIM_LABELS)
    votes = ClaimVoteOutputSerializer(many=True)
    agreement = serializers.FloatField()


@extend_schema_serializer(component_name="ClaimRecord")
class ClaimRecordOutputSerializer(serializers.Serializer):
    """An answer split into claims, each with its verdict and its annotators' votes."""

    answer_id = serializers.CharField()
    prompt = serializers.CharField()
    answer = serializers.CharField()
    claims = ClaimOutputSerializer(many=True)
    annotators = serializers.IntegerField()
    community = serializers.CharField()
    language = serializers.CharField()
    licence = serializers.CharField()


RECORD_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "battles": BattleRecordOutputSerializer,
    "preferences": PreferenceRecordOutputSerializer,
    "unpaired": UnpairedRecordOutputSerializer,
    "message_trees": MessageTreeRecordOutputSerializer,
    "claims": ClaimRecordOutputSerializer,
}


class DayField(serializers.DateField):
    """A day written YYYY-MM-DD (the schema's `format: date`), not the other ISO 8601 forms
    (20240301, 2024-W09-5) that Python would also read."""

    def to_internal_value(self, value):
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


class PoolCursorPagination(CursorPagination):
    """Pages in primary-key order; a malformed cursor is a 400, never a server error."""

    ordering = "pk"
    page_size = PAGE_SIZE_DEFAULT
    max_page_size = PAGE_SIZE_MAX
    page_size_query_param = "page_size"
    invalid_cursor = "The cursor is not valid: follow the `next` or `previous` link of a page as it is."

    def decode_cursor(self, request):
        # A cursor names a page; one that names none is a 404 (as DRF answers), with our message.
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise NotFound(self.invalid_cursor) from None
        if cursor is not None and cursor.position is not None:
            if not _POSITION.fullmatch(cursor.position) or int(cursor.position) >= 2**63:
                raise NotFound(self.invalid_cursor)
        return cursor


class PoolReader(BasePermission):
    message = (
        "The live pool is open to researchers, moderators and admins; apply for researcher access at "
        "/researcher-access/. "
        "Published releases are open to everyone at /api/v1/releases/."
    )

    def has_permission(self, request, view) -> bool:
        return pool_may_read(user=request.user)


def _parameters(kind: str) -> list[OpenApiParameter]:
    dated_by = POOL_KINDS[kind].dated_by
    every = {
        "community": OpenApiParameter(
            "community",
            {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 60},
            description="A community's slug (GET /api/v1/communities/ lists them). An unknown slug is a 404.",
        ),
        "language": OpenApiParameter(
            "language",
            {"type": "string", "pattern": LANGUAGE_PATTERN, "maxLength": 16},
            description="A language code as the records give it (BCP 47, e.g. `en`, `pt-BR`).",
        ),
        "model": OpenApiParameter(
            "model",
            {"type": "string", "minLength": 1, "maxLength": 120},
            description="A model's name: records where it answered (battles and arena preferences: either side).",
        ),
        "since": OpenApiParameter(
            "since", OpenApiTypes.DATE, description=f"Records from this day on (UTC), by {dated_by}."
        ),
        "until": OpenApiParameter(
            "until",
            OpenApiTypes.DATE,
            description=f"Records up to and including this day (UTC), by {dated_by}. Before `since`: none match.",
        ),
    }
    return [every[name] for name in POOL_KINDS[kind].filters] + [
        OpenApiParameter(
            "cursor",
            {"type": "string", "maxLength": 2000},
            description="Where a page starts: take it from a page's `next` or `previous` link, as it is.",
        ),
        OpenApiParameter(
            "page_size",
            {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX},
            description=f"Records per page, 1 to {PAGE_SIZE_MAX} (default {PAGE_SIZE_DEFAULT}).",
        ),
        RETRY_AFTER,
    ]


def _documented(kind: str):
    page = inline_serializer(
        name=f"{RECORD_SERIALIZERS[kind].__name__.removesuffix('OutputSerializer')}Page",
        fields={
            "next": serializers.URLField(allow_null=True, help_text="The next page; null on the last."),
            "previous": serializers.URLField(allow_null=True, help_text="The page before; null on the first."),
            "results": RECORD_SERIALIZERS[kind](many=True),
        },
    )
    return extend_schema_view(
        get=extend_schema(
            operation_id=f"pool_{kind}_list",
            summary=f"The live pool's {kind.replace('_', ' ')}",
            description=(
                f"The accepted live pool's `{kind}` records, in the shape of a release's `{kind}` file: "
                "PII redacted, contributors as stable pseudonyms, contributors who asked for erasure left out. "
                "Pages follow a cursor: follow `next` until it is null. Filters combine with AND. "
                "Only researchers, moderators and admins may read the live pool."
            ),
            tags=["pool"],
            parameters=_parameters(kind),
            responses={200: OpenApiResponse(page, description="One page of records."), **ERRORS},
        )
    )


class PoolListApi(APIView):
    """One kind of the live pool, filtered and paged; subclasses name the kind."""

    kind = ""
    permission_classes = [IsAuthenticated, PoolReader]
    empty_query_is_absent = True  # `?model=` is the same as no model filter (in the schema: allowEmptyValue)

    class InputSerializer(serializers.Serializer):
        community = serializers.RegexField(SLUG_PATTERN, max_length=60, required=False)
        language = serializers.RegexField(LANGUAGE_PATTERN, max_length=16, required=False)
        model = serializers.CharField(max_length=120, required=False)
        since = DayField(required=False)
        until = DayField(required=False)
        cursor = serializers.CharField(max_length=2000, required=False)
        page_size = serializers.IntegerField(min_value=1, max_value=PAGE_SIZE_MAX, required=False)

    def get(self, request, **kwargs):
        kind = pool_kind_get(kind=self.kind)
        taken = set(kind.filters) | set(PAGING_PARAMETERS)
        for name in request.query_params:
            if name in ALL_FILTERS and name not in taken:
                raise RequestRejected(
                    f"The filter {name!r} is not available for kind {kind.name!r}; it takes: {', '.join(kind.filters)}."
                )
            if name not in taken:
                raise RequestRejected(
                    f"Unknown query parameter {name!r}; this endpoint takes: "
                    f"{', '.join((*kind.filters, *PAGING_PARAMETERS))}."
                )
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        filters = PoolFilters(
            community=pool_community_get(slug=data["community"]) if "community" in data else None,
            language=data.get("language"),
            model=data.get("model"),
            since=datetime.combine(data["since"], time.min, tzinfo=UTC) if "since" in data else None,
            until=datetime.combine(data["until"], time.max, tzinfo=UTC) if "until" in data else None,
        )
        paginator = PoolCursorPagination()
        rows = paginator.paginate_queryset(pool_rows(kind=kind.name, filters=filters), request, view=self)
        return paginator.get_paginated_response(pool_records(kind=kind.name, rows=rows))


@_documented("battles")
class PoolBattleListApi(PoolListApi):
    kind = "battles"


@_documented("preferences")
class PoolPreferenceListApi(PoolListApi):
    kind = "preferences"


@_documented("unpaired")
class PoolUnpairedListApi(PoolListApi):
    kind = "unpaired"


@_documented("message_trees")
class PoolMessageTreeListApi(PoolListApi):
    kind = "message_trees"


@_documented("claims")
class PoolClaimListApi(PoolListApi):
    kind = "claims"


@extend_schema(exclude=True)
class PoolKindUnknownApi(APIView):
    """Any other kind: a 404 that lists the kinds."""

    permission_classes = [AllowAny]

    def get(self, request, kind: str):
        pool_kind_get(kind=kind)
        raise NotFound()  # not reached: every real kind has its own route
