"""Model fields the group programme shares."""

from __future__ import annotations

from typing import Any

from django.core.validators import URLValidator
from django.db import models


class VideoLinkField(models.URLField):
    """A link to a video meeting room: only ``https://``, because what is said there is
    clinical. Forms add the ``https://`` a person leaves off instead of guessing ``http://``.
    """

    default_validators = [
        URLValidator(schemes=["https"], message="Enter a video link that starts with https://.")
    ]

    def formfield(self, **kwargs: Any) -> Any:
        kwargs.setdefault("assume_scheme", "https")
        return super().formfield(**kwargs)
