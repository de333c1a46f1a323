from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from community.selectors import community_list


class CommunityListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="Community")
    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        description = serializers.CharField()
        language = serializers.CharField()
        licence_name = serializers.CharField()
        licence_url = serializers.URLField()
        licence_version = serializers.IntegerField()

    @extend_schema(operation_id="communities_list", responses=OutputSerializer(many=True))
    def get(self, request):
        return Response(self.OutputSerializer(community_list(), many=True).data)
