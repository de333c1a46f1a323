from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.utils.functional import lazy
from django.views.decorators.cache import cache_control
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from feedback.api.fallback import api_not_found

# Browsers and feed readers ask for /favicon.ico without reading a page: send them to the static icon.
# Not a permanent redirect, so a new icon (a new hashed name in production) is found within a day.
favicon_redirect = cache_control(max_age=86400, public=True)(RedirectView.as_view(url=lazy(static, str)("favicon.ico")))

urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon_redirect, name="favicon"),
    path("accounts/", include("allauth.urls")),
    # The researchers' API: its OpenAPI 3 schema, Swagger UI (assets served locally), the live pool, API tokens.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("feedback.researchapi.urls")),
    path("api/v1/", include("feedback.api.urls")),
    path("", include("community.urls")),
    path("", include("feedback.urls")),
    path("", include("training.urls")),
    path("", include("evaluation.urls")),
    # Last: any other path under /api/ is a JSON 404 (feedback/api/fallback.py), never an HTML page.
    re_path(r"^api/(?P<path>[\s\S]*)$", api_not_found, name="api-not-found"),
]
