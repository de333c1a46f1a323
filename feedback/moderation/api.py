"""Reports over the REST API: the same checks and answers as the report form."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from feedback.models import ReportReason
from feedback.moderation.ratelimits import rate_limit
from feedback.moderation.services import report_create
from feedback.moderation.services.reports import REPORT_COMMENT_MAX_CHARS, TARGET_KINDS
from feedback.researchapi.schema import ErrorOutputSerializer


class ReportCreateApi(APIView):
    """Report a message (prompt, answer, correction) or a donated conversation, once.

    400: unknown reason or kind, or your own contribution; 404: no such item, or one you have
    not been shown; 403: you are suspended or banned there; 409: you reported it already."""

    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="ReportInput")
    class InputSerializer(serializers.Serializer):
        target = serializers.ChoiceField(choices=TARGET_KINDS, help_text='"message" or "donation".')
        id = serializers.IntegerField(min_value=1)
        reason = serializers.ChoiceField(choices=ReportReason.values)
        comment = serializers.CharField(required=False, allow_blank=True, max_length=REPORT_COMMENT_MAX_CHARS)

    @extend_schema_serializer(component_name="ReportOutput")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        target = serializers.SerializerMethodField()
        target_id = serializers.SerializerMethodField()
        reason = serializers.CharField()
        status = serializers.CharField()
        created_at = serializers.DateTimeField()

        def get_target(self, report) -> str:
            return "message" if report.message_id else "donation"

        def get_target_id(self, report) -> int:
            return report.message_id or report.donation_id

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            404: OpenApiResponse(ErrorOutputSerializer, description="No such item, or one you have not been shown."),
            409: OpenApiResponse(ErrorOutputSerializer, description="You reported it already."),
        },
        operation_id="report_create",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rate_limit(request, "reports")
        report = report_create(
            reporter=request.user,
            target_kind=data.validated_data["target"],
            target_id=data.validated_data["id"],
            reason=data.validated_data["reason"],
            comment=data.validated_data.get("comment", ""),
        )
        return Response(self.OutputSerializer(report).data, status=status.HTTP_201_CREATED)
