from django.urls import include, path

from feedback.arena import views as arena_views

app_name = "feedback"

urlpatterns = [
    path("c/<slug:slug>/arena/", arena_views.arena_page, name="arena"),
    path("arena/battles/<int:battle_id>/vote/", arena_views.battle_vote, name="battle_vote"),
    path("", include("feedback.taskqueue.urls")),
    path("", include("feedback.quality.urls")),
    path("", include("feedback.releases.urls")),
    path("", include("feedback.credit.urls")),
    path("", include("feedback.mydata.urls")),
    path("", include("feedback.donations.urls")),
    path("", include("feedback.moderation.trust_urls")),
    path("", include("feedback.moderation.urls")),
]
