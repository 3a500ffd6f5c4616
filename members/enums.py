from django.db import models


class Role(models.TextChoices):
    """What a person may do in one clinic; they may hold other roles in other clinics."""

    ADMIN = "admin", "Clinic admin"
    FACILITATOR = "facilitator", "Facilitator"
    MEMBER = "member", "Member"


STAFF_ROLES = frozenset({Role.ADMIN, Role.FACILITATOR})
