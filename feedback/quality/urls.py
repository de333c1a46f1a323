from django.urls import path

from feedback.quality import views

urlpatterns = [
    path("c/<slug:slug>/agreement/", views.community_agreement_page, name="community_agreement"),
]
