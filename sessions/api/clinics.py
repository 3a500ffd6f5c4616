"""Which clinic a write goes to, for the staff of one clinic or of several."""

from __future__ import annotations

from collections.abc import Sequence

from rest_framework.exceptions import PermissionDenied, ValidationError

from members.models import Clinic


def clinic_choose(*, clinics: Sequence[Clinic], wanted: int | None, refusal: str) -> Clinic:
    """The only one of ``clinics`` (where the caller holds the role the write needs), or
    ``wanted`` when there are several. A clinic not among them, or that does not exist, is
    the same 403 with ``refusal``; several and no choice is a 400 on ``clinic``."""
    if wanted is not None:
        for clinic in clinics:
            if clinic.pk == wanted:
                return clinic
        raise PermissionDenied(refusal)
    if not clinics:
        raise PermissionDenied(refusal)
    if len(clinics) > 1:
        raise ValidationError({"clinic": ["You work in more than one clinic: say which one."]})
    return clinics[0]
