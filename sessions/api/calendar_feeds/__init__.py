"""The secret calendar feeds: a person's own (``me``) and a member record's (``members``)."""
