from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("kith.core.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("kith.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("", include("kith.messaging.urls")),
    path("webhooks/", include("kith.messaging.webhook_urls")),
    path("", include("kith.tracking.urls")),
    path("", include("kith.events.urls")),
    path("", include("kith.webhooks.urls")),
    path("", include("kith.inbound.urls")),
    path("", include("kith.preferences.urls")),
    path("", include("kith.drips.urls")),
    path("", include("kith.workflows.urls")),
    path("", include("kith.campaigns.urls")),
    path("", include("kith.web.urls")),
]

# Kith-styled error pages (JSON under /api/); see kith.web.views.errors.
handler400 = "kith.web.views.errors.bad_request"
handler403 = "kith.web.views.errors.permission_denied"
handler404 = "kith.web.views.errors.page_not_found"
handler500 = "kith.web.views.errors.server_error"
