from django.urls import path

from feedback.credit import views
from feedback.credit.api import LeaderboardApi

urlpatterns = [
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("me/credit/", views.my_credit, name="my_credit"),
    path("me/credit/leaderboards/", views.leaderboard_visibility, name="leaderboard_visibility"),
    path("api/v1/leaderboard/", LeaderboardApi.as_view(), name="api-leaderboard"),
]
