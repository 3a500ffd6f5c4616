"""Output of the calendar feed endpoints: the feed's URL and when it was issued. No input:
issuing and revoking take no body."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sessions.models import CalendarFeed
from sessions.selectors.calendar_feeds import calendar_feed_url


class CalendarFeedOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(
        help_text="The secret iCalendar URL to subscribe to in a calendar app. Anyone who has "
        "it sees the sessions it lists: share it with no one, and issue a new one if it leaked."
    )

    class Meta:
        model = CalendarFeed
        fields = ["url", "created_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, feed: CalendarFeed) -> str:
        return calendar_feed_url(feed)
