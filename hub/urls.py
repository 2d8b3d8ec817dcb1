"""The site's URLs: pages, the REST API under /api/v1/, its schema and docs, and the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("hub.api.urls")),
    path("api/v1/", include("training.api.urls")),
    path("api/v1/", include("governance.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("hub.web_urls")),
    path("", include("training.urls")),
    path("", include("governance.urls")),
    # Last: the Hugging Face routes (/{org}/{model}/resolve/..., /api/models/...) match broad patterns.
    path("", include("hub.hf.write_urls")),
    path("", include("hub.hf.read_urls")),
]
