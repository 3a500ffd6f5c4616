"""Pages of the group programme outside the API: the secret calendar feed."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from sessions.ics import calendar_bytes, session_event
from sessions.selectors.calendar_feeds import calendar_feed_by_token, calendar_feed_sessions

CALENDAR_NAME = "GroupCare"

#: What a token can look like (``secrets.token_urlsafe``); anything else is not looked up.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def _private(response: HttpResponse) -> HttpResponse:
    # The URL is the only key to the feed and the body says when and where a person goes to
    # therapy (and the video link): nothing on the way may keep a copy (no-store), so a
    # revoked URL or a cancellation is never served from a cache, and the feed is three
    # queries to rebuild. Calendar apps poll on their own schedule, not by HTTP expiry.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


# Calendar apps send no CSRF token, and the view writes nothing: any other method is a 405
# (not the CSRF check's 403), as it would be for any read-only URL.
@csrf_exempt
@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """GET/HEAD ``/calendar/<token>.ics``: the sessions of the feed's owner as iCalendar.

    No sign-in: the token is the credential (calendar apps cannot sign in). An unknown,
    revoked or malformed token gets the same plain 404, so a guess learns nothing.
    """
    feed = calendar_feed_by_token(token) if TOKEN_PATTERN.fullmatch(token) else None
    if feed is None:
        return _private(
            HttpResponse("Not found.\n", status=404, content_type="text/plain; charset=utf-8")
        )
    now = timezone.now()
    events = [
        # DTSTAMP is when the session last changed, not when the feed was fetched (RFC 5545
        # 3.8.7.2, for an object without METHOD): unchanged sessions read the same each time.
        session_event(
            entry.session,
            tz_name=entry.tz_name,
            video_link=entry.video_link,
            now=entry.session.updated_at,
        )
        for entry in calendar_feed_sessions(feed=feed, now=now)
    ]
    response = HttpResponse(
        calendar_bytes(events, name=CALENDAR_NAME), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="groupcare.ics"'
    return _private(response)
