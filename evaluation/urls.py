from django.urls import path

from evaluation.leaderboards import api, views

app_name = "evaluation"

urlpatterns = [
    path("leaderboards/", views.leaderboards_home, name="leaderboards"),
    path("leaderboards/method/", views.leaderboards_method, name="leaderboards_method"),
    path("leaderboards/refresh/", views.leaderboards_refresh_request, name="leaderboards_refresh"),
    path(
        "leaderboards/refreshes/<int:refresh_id>/",
        views.leaderboards_refresh_status,
        name="leaderboards_refresh_status",
    ),
    path("c/<slug:slug>/leaderboard/", views.community_leaderboard, name="community_leaderboard"),
    path("c/<slug:slug>/leaderboard/method/", views.leaderboards_method, name="community_leaderboard_method"),
    path("api/v1/leaderboards/", api.LeaderboardListApi.as_view(), name="api-leaderboards"),
    path("api/v1/leaderboards/latest/", api.LeaderboardLatestApi.as_view(), name="api-leaderboard-latest"),
    path(
        "api/v1/leaderboards/snapshots/<int:snapshot_id>/",
        api.LeaderboardSnapshotApi.as_view(),
        name="api-leaderboard-snapshot",
    ),
]
