from django.urls import path

from training.runs import views

app_name = "training"

urlpatterns = [
    path("c/<slug:slug>/runs/", views.community_runs, name="runs"),
    path("c/<slug:slug>/runs/start/", views.run_start_view, name="run_start"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/cancel/", views.run_cancel_view, name="run_cancel"),
    path("runs/<int:run_id>/retry/", views.run_retry_view, name="run_retry"),
    path("models/", views.model_list, name="models"),
    path("models/<int:model_id>/", views.model_detail, name="model"),
    path("models/<int:model_id>/promote/", views.model_promote_view, name="model_promote"),
    path("models/<int:model_id>/retire/", views.model_retire_view, name="model_retire"),
]
