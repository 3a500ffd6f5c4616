from allauth.account.decorators import secure_admin_login
from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from groupcare import views
from sessions.views.calendar_feeds import calendar_feed

# The Django admin has no sign-in of its own: its login page sends the visitor to allauth's,
# so the same rate limits and MFA guard it, and a signed-in person without admin access is
# refused (403) instead of being offered another sign-in.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    # The token is any path segment here; the view answers 404 to one of the wrong shape.
    path("calendar/<str:token>.ics", calendar_feed, name="calendar-feed"),
    path("accounts/", include("allauth.urls")),
    path("", include("sessions.urls")),
    path("clinic/", include("members.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("groupcare.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI sets inline styles as it renders; its scripts stay 'self' only, and this
    # developer page is the one place where inline styles are allowed.
    path(
        "api/docs/",
        csp_update({"style-src": [SELF, UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
]

handler404 = "groupcare.views.not_found"
handler500 = "groupcare.views.server_error"
handler400 = "groupcare.views.bad_request"
