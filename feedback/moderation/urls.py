"""The moderator console and reports (names in the "feedback" namespace)."""

from django.urls import path

from feedback.moderation import api, views

urlpatterns = [
    path("moderation/", views.queue_page, name="moderation_queue"),
    path("moderation/cases/<int:case_id>/", views.case_page, name="moderation_case"),
    path("moderation/cases/<int:case_id>/<slug:action>/", views.case_action, name="moderation_case_action"),
    path("moderation/appeals/", views.appeals_page, name="moderation_appeals"),
    path("moderation/appeals/<int:appeal_id>/decide/", views.appeal_decide, name="moderation_appeal_decide"),
    path("moderation/audit/", views.audit_log_page, name="moderation_audit"),
    path("report/<slug:kind>/<int:target_id>/", views.report_view, name="report"),
    path("api/v1/reports/", api.ReportCreateApi.as_view(), name="api-report-create"),
]
