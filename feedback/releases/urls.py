from django.urls import path

from feedback.releases import api, views

urlpatterns = [
    path("releases/", views.release_list, name="releases"),
    path("releases/start/", views.release_start, name="release_start"),
    path("releases/<int:release_id>/", views.release_detail, name="release"),
    path("releases/<int:release_id>/datasheet/", views.release_datasheet_save, name="release_datasheet"),
    path("releases/<int:release_id>/publish/", views.release_publish_view, name="release_publish"),
    path("api/v1/releases/", api.ReleaseListApi.as_view(), name="api-releases"),
    path("api/v1/releases/<int:release_id>/", api.ReleaseDetailApi.as_view(), name="api-release"),
    path(
        "api/v1/releases/<int:release_id>/files/dataset_dict.tar",
        views.release_dataset_dict_archive,
        name="api-release-dataset-dict",
    ),
    path(
        "api/v1/releases/<int:release_id>/files/<str:file_name>", api.ReleaseFileApi.as_view(), name="api-release-file"
    ),
    path(
        "api/v1/releases/<int:release_id>/proof/<str:record_id>", api.RecordProofApi.as_view(), name="api-release-proof"
    ),
]
