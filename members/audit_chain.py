"""The audit log's hash chain: how one entry's hash is computed from its contents.

Each entry stores ``prev_hash`` (the hash of the entry before it in ``seq`` order, or
``GENESIS`` for the first) and ``entry_hash``, the SHA-256 of a canonical JSON text of the
fields in ``CHAINED_FIELDS``. Altering an entry breaks its own hash; removing or inserting
one breaks the ``seq`` numbering or the link of the entry after it; cutting the tail no
longer matches the chain head (``AuditChainHead``).

The serialisation is frozen: existing chains were hashed with it, so a change here makes
every stored entry look altered (the migration that back-filled the chain uses it too).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: ``prev_hash`` of the first entry.
GENESIS = "0" * 64

#: What an entry's hash covers. ``seq`` (assigned from the locked chain head, unique)
#: stands in for the primary key, which the database only assigns on insert.
CHAINED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "clinic_id",
    "action",
    "object_type",
    "object_id",
    "data",
    "ip_address",
    "user_agent",
    "prev_hash",
)


def entry_digest(values: Mapping[str, Any]) -> str:
    """The hex SHA-256 of ``values`` (one entry's ``CHAINED_FIELDS``) in canonical form:
    sorted keys, no spaces, ASCII only, ``at`` as ISO 8601 in UTC with microseconds."""
    payload = {name: values[name] for name in CHAINED_FIELDS}
    at: dt.datetime = payload["at"]
    payload["at"] = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
