"""The site's URLs plus one view that fails: the 500 page under test (test_headers.py)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from groupcare.urls import handler404
from groupcare.urls import urlpatterns as site_urlpatterns

__all__ = ["handler404", "urlpatterns"]


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a deliberate failure of the header tests")


urlpatterns = [path("test-only/fail/", fail), *site_urlpatterns]
