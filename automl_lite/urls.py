"""Every URL of the product, by area: pages, API, admin, docs."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import api_views
from datasets import urls as datasets_urls
from jobs import urls as jobs_urls
from jobs import views as jobs_views

# A body over DATA_UPLOAD_MAX_MEMORY_SIZE found while parsing is a 413, not a 400.
handler400 = "core.errors.bad_request"

api_patterns = [
    path("", api_views.RootApi.as_view(), name="root"),
    re_path(r"^health/?$", api_views.HealthApi.as_view(), name="health"),
    path("", include("datasets.api_urls")),
    path("", include("jobs.api_urls")),
    # The documents answer GET and HEAD; anything else is a 405 with a JSON message.
    path("schema/", require_safe(SpectacularAPIView.as_view()), name="schema"),
    path("openapi.json", require_safe(SpectacularAPIView.as_view()), name="openapi-json"),
    re_path(
        r"^docs/?$",
        require_safe(SpectacularSwaggerView.as_view(url_name="api:schema")),
        name="docs",
    ),
    re_path(
        r"^redoc/?$",
        require_safe(SpectacularRedocView.as_view(url_name="api:schema")),
        name="redoc",
    ),
]

urlpatterns = [
    path("", jobs_views.home, name="home"),
    # The dataset pages, and the configure page jobs serves at a dataset's own URL.
    path(
        "datasets/",
        include((datasets_urls.urlpatterns + jobs_urls.configure_urlpatterns, "datasets")),
    ),
    path("jobs/", include("jobs.urls")),
    path("api/", include((api_patterns, "api"))),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
