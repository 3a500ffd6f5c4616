"""The API's request parser: JSON only, held to the upload limit.

Its own module, not ``groupcare.api``: DRF imports the parser classes named in its settings
while ``rest_framework.views`` is being imported, which ``groupcare.api`` itself imports.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"


def too_large() -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body is too large: send at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    )


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser, held to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` as Django holds a form.

    DRF reads the body from the request stream, past the limit ``request.body`` and
    ``request.POST`` enforce; this parser reads at most one byte more than the limit, and a
    longer body is a 413 before any of it is parsed. A body nested deeper than Python's
    JSON decoder goes is a 400 like any other malformed JSON, not a RecursionError."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            try:
                body = stream.read(limit + 1)
            except RequestDataTooBig:
                raise too_large() from None
            if len(body) > limit:
                raise too_large()
            stream = io.BytesIO(body)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:  # "[[[[…": Python's json gives up on deep nesting
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
