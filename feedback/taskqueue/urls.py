from django.urls import path

from feedback.taskqueue import api, views

urlpatterns = [
    path("tasks/", views.tasks_home, name="tasks"),
    path("tasks/next/", views.task_next_page, name="task_next"),
    path("tasks/preferences/", views.task_preferences, name="task_preferences"),
    path("tasks/<int:assignment_id>/", views.task_page, name="task"),
    path("tasks/<int:assignment_id>/answer/", views.task_answer, name="task_answer"),
    path("tasks/<int:assignment_id>/skip/", views.task_skip_view, name="task_skip"),
    path("api/v1/tasks/next/", api.TaskNextApi.as_view(), name="api-task-next"),
    path("api/v1/tasks/<int:assignment_id>/", api.TaskDetailApi.as_view(), name="api-task"),
    path("api/v1/tasks/<int:assignment_id>/answer/", api.TaskAnswerApi.as_view(), name="api-task-answer"),
    path("api/v1/tasks/<int:assignment_id>/skip/", api.TaskSkipApi.as_view(), name="api-task-skip"),
]
