"""The site's URLs: pages, the REST API under /api/v1/, its schema and docs, and the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from hub.access import public
from hub.api.exceptions import api_not_found

# A full storage volume answers 507 Insufficient Storage; anything else Django's own 500 page.
handler500 = "hub.views.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", public(auth_views.LoginView.as_view()), name="login"),
    path("logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path("api/v1/", include("hub.api.urls")),
    path("api/v1/", include("training.api.urls")),
    path("api/v1/", include("governance.api.urls")),
    re_path(r"^api/v1/", api_not_found),
    path("api/schema/", public(SpectacularAPIView.as_view()), name="schema"),
    # The split view serves Swagger UI's start-up code as a script file: the CSP allows no inline script.
    path("api/docs/", public(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="swagger-ui"),
    path("", include("hub.web_urls")),
    path("", include("training.urls")),
    path("", include("governance.urls")),
    # Last: the Hugging Face routes (/{org}/{model}/resolve/..., /api/models/...) match broad patterns.
    path("", include("hub.hf.write_urls")),
    path("", include("hub.hf.read_urls")),
]
