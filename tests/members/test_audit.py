import pytest
from django.test import RequestFactory

from members.audit_context import AuditContextMiddleware
from members.enums import Role
from members.models import AuditEntry
from members.services import audit_log, clinic_role_grant
from tests.factories.members import ClinicFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_granting_a_role_is_audited_once():
    clinic, user, admin = ClinicFactory(), UserFactory(), UserFactory()

    clinic_role_grant(user=user, clinic=clinic, role=Role.FACILITATOR, by=admin)
    clinic_role_grant(user=user, clinic=clinic, role=Role.FACILITATOR, by=admin)

    assert list(AuditEntry.objects.values_list("action", "actor", "clinic", "data")) == [
        ("members.role.granted", admin.pk, clinic.pk, {"user_id": user.pk, "role": "facilitator"})
    ]


def test_entries_outside_a_request_carry_no_request_metadata():
    entry = audit_log(action="members.test.done", actor=None, clinic=None)

    assert (entry.ip_address, entry.user_agent) == (None, "")


def test_entries_inside_a_request_carry_its_address_and_agent():
    captured = {}

    def view(request):
        captured["entry"] = audit_log(action="members.test.done", actor=None, clinic=None)
        return None

    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Tablet/1.0")
    AuditContextMiddleware(view)(request)

    entry = captured["entry"]
    assert (entry.ip_address, entry.user_agent) == ("203.0.113.9", "Tablet/1.0")


def test_an_entry_cannot_be_changed_or_deleted():
    entry = audit_log(action="members.test.done", actor=None, clinic=None)

    entry.action = "members.test.rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()

    assert AuditEntry.objects.get().action == "members.test.done"
