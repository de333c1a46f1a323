from django.urls import path

from community import views

app_name = "community"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.community_page, name="detail"),
    path("c/<slug:slug>/join/", views.community_join, name="join"),
    path("me/sanctions/", views.my_sanctions, name="my_sanctions"),
    path("me/sanctions/<int:sanction_id>/appeal/", views.sanction_appeal, name="sanction_appeal"),
]
