"""Reads of the group programme, by entity; each owns its select_related/prefetch."""
