"""The query string a page's links keep: the page's own parameters but the one a link sets."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import urlencode


def query_without(request: HttpRequest, *names: str) -> str:
    """``request``'s query parameters without ``names`` and without empty ones, urlencoded:
    what a list's page links (or a filter's reset) carry so the rest of the page stays as
    it is."""
    return urlencode(
        [(key, value) for key, value in request.GET.items() if key not in names and value]
    )
