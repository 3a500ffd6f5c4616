"""Log records carry ids, never health information: the filter every handler runs.

A log line outlives the record it mentions (an anonymised member stays in last year's log
files, in the log service, in a support ticket), so GroupCare logs ids and rules, not names,
e-mail addresses or notes. The code says so by convention; :class:`PHIFilter` makes it hold
mechanically for what a convention misses:

- a model instance passed to a log call is logged as ``<app_label.model #pk>`` (its
  ``__str__`` is often a name), a queryset as ``<QuerySet app_label.model>``;
- e-mail addresses are redacted, in the message and in the traceback;
- PostgreSQL's constraint detail (``Key (email)=(x@y)``) loses its values;
- a model's repr (``<Member: Alex>``) keeps only the class name, and in an exception's
  message (not its traceback lines) a quoted value is redacted: Python echoes the value it
  choked on (``invalid literal for int() with base 10: 'Alex'``, ``KeyError: 'Alex'``);
- a request line's query string (``GET /path?q=Smith``), which Django's ``django.server``
  logger writes, loses its query;
- the ``request`` object Django attaches to ``django.request`` records is dropped (a handler
  could render its POST data);
- the traceback is formatted here, after redaction, into ``exc_text``, and ``exc_info`` is
  cleared so that no handler renders the exception again from the original.

The filter changes the record in place, so every handler after the first sees the redacted
record, and running it twice changes nothing more.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.db import models

#: Anything that looks like an e-mail address.
EMAIL_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_REDACTED = "<e-mail>"
#: PostgreSQL's DETAIL of a constraint violation: ``Key (email)=(someone@example.org)``,
#: ``Key (clinic_id, name)=(1, Thursday)``, ``Failing row contains (…)``.
CONSTRAINT_KEY_RE = re.compile(r"(Key \([^)]*\))=\(.*?\)(?= already exists| is not present|\.|$)")
FAILING_ROW_RE = re.compile(r"(Failing row contains )\(.*?\)(?=\.?$)", re.MULTILINE)
#: A request line as ``django.server`` (and access logs) write it, with a query string.
REQUEST_LINE_QUERY_RE = re.compile(
    r"\b((?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT)\s+[^\s?\"]*)\?[^\s\"]*"
)
#: Django's repr of a model instance: ``<Member: its __str__>``.
MODEL_REPR_RE = re.compile(r"<([A-Z]\w*): [^<>\n]*>")
#: A single-quoted value, as Python's repr of a string writes it.
QUOTED_RE = re.compile(r"'[^'\n]*'")
REDACTED = "…"

_formatter = logging.Formatter()


def describe(value: Any) -> Any:
    """``value``, or for a model instance or queryset a description without its data."""
    if isinstance(value, models.Model):
        meta = value._meta
        return f"<{meta.app_label}.{meta.model_name} #{value.pk}>"
    if isinstance(value, models.QuerySet):
        meta = value.model._meta
        return f"<QuerySet {meta.app_label}.{meta.model_name}>"
    if isinstance(value, list | tuple | set | frozenset) and any(
        isinstance(item, models.Model | models.QuerySet) for item in value
    ):
        return type(value)(describe(item) for item in value)
    return value


def redact(text: str) -> str:
    """``text`` without e-mail addresses, constraint values or query strings."""
    text = EMAIL_RE.sub(EMAIL_REDACTED, text)
    text = CONSTRAINT_KEY_RE.sub(rf"\1=({REDACTED})", text)
    text = FAILING_ROW_RE.sub(rf"\1({REDACTED})", text)
    text = MODEL_REPR_RE.sub(rf"<\1: {REDACTED}>", text)
    return REQUEST_LINE_QUERY_RE.sub(rf"\1?{REDACTED}", text)


def redact_traceback(text: str) -> str:
    """A formatted traceback, redacted (:func:`redact`), and in the exception's own lines
    (those a traceback does not indent) without quoted values."""
    lines = []
    for line in redact(text).split("\n"):
        if line and not line[0].isspace() and not line.startswith("Traceback ("):
            line = QUOTED_RE.sub(f"'{REDACTED}'", line)
        lines.append(line)
    return "\n".join(lines)


class PHIFilter(logging.Filter):
    """Rewrite each record so that it carries ids, not personal data (see the module).

    Never drops a record: a log line that could not be cleaned says so instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("request", None)
        try:
            record.msg = describe(record.msg)
            if isinstance(record.args, dict):
                record.args = {key: describe(value) for key, value in record.args.items()}
            elif isinstance(record.args, tuple):
                record.args = tuple(describe(value) for value in record.args)
            message = record.getMessage()
        except Exception:  # a log call whose arguments do not fit its format
            message = f"(unformattable log message from {record.pathname}:{record.lineno})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = _formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_traceback(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def phi_filter_every_handler() -> None:
    """Put :class:`PHIFilter` on every handler of every logger that lacks it.

    ``settings.LOGGING`` filters the handlers it declares; a Celery worker adds handlers of
    its own when it sets up logging (the task logger, billiard's), and those must filter too.
    """
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(existing, PHIFilter) for existing in handler.filters):
                handler.addFilter(PHIFilter())
