"""Researchers' API for releases: list, detail, file downloads and record proofs."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from feedback.releases.downloads import file_response
from feedback.releases.selectors import record_proof, release_file_path, release_get_for, release_list_for
from feedback.researchapi.schema import ErrorOutputSerializer


class ReleaseOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    community = serializers.CharField(source="community.slug", allow_null=True, default=None)
    version = serializers.IntegerField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    merkle_root = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    manifest = serializers.JSONField()


class ReleaseListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="releases_list", responses=ReleaseOutputSerializer(many=True))
    def get(self, request):
        return Response(ReleaseOutputSerializer(release_list_for(viewer=request.user), many=True).data)


class ReleaseDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ReleaseOutputSerializer)
    def get(self, request, release_id: int):
        return Response(ReleaseOutputSerializer(release_get_for(viewer=request.user, release_id=release_id)).data)


class ReleaseFileApi(APIView):
    """A file of the release (a data file of its manifest, `manifest.json`, `DATASHEET.md` or
    `RELEASE_NOTES.md`), streamed."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, release_id: int, file_name: str):
        release = release_get_for(viewer=request.user, release_id=release_id)
        path = release_file_path(release=release, file_name=file_name)
        return file_response(request, path, filename=f"{release.name}-{file_name}")


class RecordProofApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("file", str, description="The file to look in, when several hold the id.")],
        responses={
            200: inline_serializer(
                name="RecordProof",
                fields={
                    "release": serializers.CharField(),
                    "file": serializers.CharField(),
                    "record": serializers.DictField(),
                    "leaf_index": serializers.IntegerField(),
                    "tree_size": serializers.IntegerField(),
                    "audit_path": serializers.ListField(child=serializers.CharField()),
                    "root": serializers.CharField(),
                },
            ),
            409: OpenApiResponse(ErrorOutputSerializer, description="Several files hold this id: add `?file=<name>`."),
        },
    )
    def get(self, request, release_id: int, record_id: str):
        release = release_get_for(viewer=request.user, release_id=release_id)
        return Response(record_proof(release=release, record_id=record_id, file_name=request.query_params.get("file")))
