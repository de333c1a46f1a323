from django.urls import path

from community.api import CommunityListApi
from feedback.api.arena import BattleDetailApi, BattleVoteApi

urlpatterns = [
    path("communities/", CommunityListApi.as_view(), name="api-communities"),
    path("battles/<int:battle_id>/", BattleDetailApi.as_view(), name="api-battle"),
    path("battles/<int:battle_id>/vote/", BattleVoteApi.as_view(), name="api-battle-vote"),
]
