from django.urls import path

from feedback.moderation import trust_views

urlpatterns = [
    path("c/<slug:slug>/moderation/trust/", trust_views.trust_board, name="trust_board"),
    path("c/<slug:slug>/moderation/trust/policy/", trust_views.trust_policy_edit, name="trust_policy_edit"),
    path("c/<slug:slug>/trust-policy/", trust_views.trust_policy_page, name="trust_policy"),
]
