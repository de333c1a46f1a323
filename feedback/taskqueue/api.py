"""The task queue's REST API: the same work as the task pages, for scripts and other clients."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from feedback.models import TaskKind
from feedback.moderation.ratelimits import rate_limit
from feedback.researchapi.schema import ErrorOutputSerializer
from feedback.taskqueue.selectors import assignment_get_for_volunteer, task_context
from feedback.taskqueue.services import responses
from feedback.taskqueue.services.queue import task_next, task_skip


class MessageOutputSerializer(serializers.Serializer):
    """A message as the volunteer may read it: personal information redacted unless they wrote
    it or moderate the community (`texts_shown_set`)."""

    id = serializers.IntegerField()
    role = serializers.CharField()
    text = serializers.CharField(source="shown_text")


class TaskOutputSerializer(serializers.Serializer):
    """One served task: what to look at and what to answer."""

    def to_representation(self, assignment):
        context = task_context(assignment=assignment)
        item = assignment.item
        data = {
            "id": assignment.pk,
            "kind": item.kind,
            "community": item.community.slug,
            "status": assignment.status,
            "reserved_until": serializers.DateTimeField().to_representation(assignment.reserved_until),
            "history": MessageOutputSerializer(context.get("history", []), many=True).data,
        }
        if "answer" in context:
            data["answer"] = MessageOutputSerializer(context["answer"]).data
        if item.kind == TaskKind.RATE:
            data["scales"] = [{"name": s.name, "label": s.label, "question": s.question} for s in context["scales"]]
        elif item.kind == TaskKind.FLAG:
            data["labels"] = [value for value, _ in context["flag_labels"]]
        elif item.kind == TaskKind.RANK:
            data["answers"] = MessageOutputSerializer(context["answers"], many=True).data
        elif item.kind == TaskKind.CHECK_CLAIMS:
            data["claims"] = [{"id": c.pk, "text": c.shown_text} for c in context["claims"]]
            data["verdicts"] = [value for value, _ in context["verdicts"]]
        return data


# A task that can no longer be answered (answered, skipped, taken down, full), for the OpenAPI schema.
CONFLICT = OpenApiResponse(ErrorOutputSerializer, description="The task cannot be answered or skipped any more.")
# What answering or skipping a task returns (for the OpenAPI schema).
TASK_STATUS = inline_serializer(
    "TaskStatus", fields={"id": serializers.IntegerField(), "status": serializers.CharField()}
)


class TaskNextApi(APIView):
    @extend_schema_serializer(component_name="TaskNextInput")
    class InputSerializer(serializers.Serializer):
        community = serializers.SlugField(required=False)
        kind = serializers.ChoiceField(choices=TaskKind.values, required=False)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: TaskOutputSerializer,
            200: inline_serializer("NoTask", fields={"detail": serializers.CharField()}),
        },
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assignment = task_next(
            volunteer=request.user,
            community_slug=serializer.validated_data.get("community"),
            kind=serializer.validated_data.get("kind"),
        )
        if assignment is None:
            return Response({"detail": "No task for you right now."}, status=status.HTTP_200_OK)
        return Response(TaskOutputSerializer(assignment).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(APIView):
    @extend_schema(responses=TaskOutputSerializer)
    def get(self, request, assignment_id: int):
        assignment = assignment_get_for_volunteer(volunteer=request.user, assignment_id=assignment_id)
        return Response(TaskOutputSerializer(assignment).data)


class TaskAnswerApi(APIView):
    """The body depends on the kind: {"ratings": {scale: 1-5}}, {"labels": [...], "note": ""},
    {"text": ...}, {"order": [[id], [id, id], ...]} or {"claims": [{"id", "text", "verdict"}]}."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: TASK_STATUS, 409: CONFLICT})
    def post(self, request, assignment_id: int):
        rate_limit(request, "submissions")
        responses.task_answer_submit(volunteer=request.user, assignment_id=assignment_id, answer=request.data)
        assignment = assignment_get_for_volunteer(volunteer=request.user, assignment_id=assignment_id)
        return Response({"id": assignment.pk, "status": assignment.status}, status=status.HTTP_201_CREATED)


class TaskSkipApi(APIView):
    @extend_schema(request=None, responses={200: TASK_STATUS, 409: CONFLICT})
    def post(self, request, assignment_id: int):
        assignment = task_skip(volunteer=request.user, assignment_id=assignment_id)
        return Response({"id": assignment.pk, "status": assignment.status})
