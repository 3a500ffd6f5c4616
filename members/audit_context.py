"""Request metadata for audit entries, set by middleware, read by the audit service.

Services take no request (they also run in Celery tasks and commands); a context variable
carries the caller's address and user agent when there is a request.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None
    user_agent: str


current_request_meta: ContextVar[RequestMeta | None] = ContextVar(
    "current_request_meta", default=None
)


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # REMOTE_ADDR is the direct peer; behind a proxy the deployment sets it from the
        # proxy's header (gunicorn --forwarded-allow-ips), never from a client-sent header.
        meta = RequestMeta(
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("user-agent", "")[:300],
        )
        token = current_request_meta.set(meta)
        try:
            return self.get_response(request)
        finally:
            current_request_meta.reset(token)
