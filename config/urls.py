from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # The researchers' API: its OpenAPI 3 schema, Swagger UI (assets served locally), the live pool, API tokens.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("feedback.researchapi.urls")),
    path("api/v1/", include("feedback.api.urls")),
    path("", include("community.urls")),
    path("", include("feedback.urls")),
    path("", include("evaluation.urls")),
]
