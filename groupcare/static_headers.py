"""Headers of the static files WhiteNoise serves.

WhiteNoise answers ``/static/`` from its own middleware, before the clickjacking and CSP
middleware run; only ``SecurityMiddleware``, outside it, still adds nosniff, Referrer-Policy
and HSTS. Most static files are not documents, but some are when opened on their own (an
SVG, the Swagger UI's ``oauth2-redirect.html``, which has inline script), so every static
file is sent with the site's Content-Security-Policy and X-Frame-Options as well: one rule,
every response.
"""

from __future__ import annotations

from wsgiref.headers import Headers

from csp.utils import build_policy
from django.conf import settings


def add_security_headers(headers: Headers, path: str, url: str) -> None:
    """``WHITENOISE_ADD_HEADERS_FUNCTION``: the page policy, read from the settings."""
    headers["Content-Security-Policy"] = build_policy()
    headers["X-Frame-Options"] = settings.X_FRAME_OPTIONS
