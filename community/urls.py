from django.urls import path

from community import views

app_name = "community"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.community_page, name="detail"),
    path("c/<slug:slug>/join/", views.community_join, name="join"),
    path("me/sanctions/", views.my_sanctions, name="my_sanctions"),
    path("me/sanctions/<int:sanction_id>/appeal/", views.sanction_appeal, name="sanction_appeal"),
    path("researcher-access/", views.researcher_access, name="researcher_access"),
    path("researcher-access/review/", views.researcher_access_review, name="researcher_access_review"),
    path(
        "researcher-access/review/<int:application_id>/decide/",
        views.researcher_access_decide,
        name="researcher_access_decide",
    ),
]
