from django.urls import path

from feedback.quality import views

urlpatterns = [
    path("c/<slug:slug>/agreement/", views.community_agreement_page, name="community_agreement"),
    path("moderation/contributors/", views.contributor_quality_page, name="contributor_quality"),
]
