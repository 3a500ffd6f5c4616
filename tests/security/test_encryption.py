"""Encryption at rest of clinical free text and MFA secrets, and key rotation."""

from __future__ import annotations

import importlib
import io
import os
import shutil
import subprocess
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from groupcare import crypto
from groupcare.fields import EncryptedLookupError, store_values, stored_values
from members.management.commands.encryption_rotate import encrypted_fields
from sessions.enums import AttendanceStatus, Finding, ScreeningOutcome, SessionStatus, Stage
from sessions.models import (
    Attendance,
    AttendanceChange,
    Enrolment,
    GroupSession,
    Screening,
    StageTransition,
)
from tests.factories.members import TEST_TOTP_SECRET, UserFactory, mfa_enrol
from tests.factories.sessions import EnrolmentFactory, GroupSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_used_codes():
    # allauth remembers a used one-time code in the cache, per user id; ids repeat between
    # tests, and the same code stays current for its 30 seconds.
    cache.clear()


OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()

# Every clinical free-text field: a new one is encrypted on purpose, and listed here.
CLINICAL_FIELDS = {
    "group_sessions.AttendanceChange.reason",
    "group_sessions.Enrolment.leave_note",
    "group_sessions.Enrolment.screening_override_reason",
    "group_sessions.GroupSession.cancel_reason",
    "group_sessions.Screening.acute_illness_note",
    "group_sessions.Screening.anxiety_or_trauma_note",
    "group_sessions.Screening.disruptive_behaviour_note",
    "group_sessions.Screening.individual_needs_note",
    "group_sessions.Screening.support_plan",
    "group_sessions.StageTransition.note",
}


def canary(label: str) -> str:
    return f"CANARY-{label.rsplit('.', 2)[-2]}-{label.rsplit('.', 1)[-1]}-7f3a"


def seed_every_encrypted_field() -> dict[str, tuple[type, int]]:
    """One row per encrypted field, holding that field's canary; label → (model, pk)."""
    enrolment = EnrolmentFactory()
    group = enrolment.group
    by = group.lead_facilitator
    Enrolment.objects.filter(pk=enrolment.pk).update(
        leave_note=canary("group_sessions.Enrolment.leave_note"),
        screening_override_reason=canary("group_sessions.Enrolment.screening_override_reason"),
    )
    screening = Screening.objects.create(
        enrolment=enrolment,
        acute_illness=Finding.MANAGEABLE,
        acute_illness_note=canary("group_sessions.Screening.acute_illness_note"),
        anxiety_or_trauma=Finding.MANAGEABLE,
        anxiety_or_trauma_note=canary("group_sessions.Screening.anxiety_or_trauma_note"),
        disruptive_behaviour=Finding.NO_CONCERN,
        disruptive_behaviour_note=canary("group_sessions.Screening.disruptive_behaviour_note"),
        individual_needs=Finding.NO_CONCERN,
        individual_needs_note=canary("group_sessions.Screening.individual_needs_note"),
        outcome=ScreeningOutcome.SUITABLE_WITH_SUPPORT,
        support_plan=canary("group_sessions.Screening.support_plan"),
        screened_by=by,
    )
    transition = StageTransition.objects.create(
        group=group,
        from_stage=Stage.FORMING,
        to_stage=Stage.STORMING,
        by=by,
        note=canary("group_sessions.StageTransition.note"),
    )
    session = GroupSessionFactory(
        group=group,
        status=SessionStatus.CANCELLED,
        cancel_reason=canary("group_sessions.GroupSession.cancel_reason"),
    )
    attendance = Attendance.objects.create(
        session=session, member=enrolment.member, status=AttendanceStatus.ABSENT, recorded_by=by
    )
    change = AttendanceChange.objects.create(
        attendance=attendance,
        old_status=AttendanceStatus.ABSENT,
        new_status=AttendanceStatus.EXCUSED,
        changed_by=by,
        reason=canary("group_sessions.AttendanceChange.reason"),
    )
    rows = {
        "group_sessions.Enrolment": enrolment.pk,
        "group_sessions.Screening": screening.pk,
        "group_sessions.StageTransition": transition.pk,
        "group_sessions.GroupSession": session.pk,
        "group_sessions.AttendanceChange": change.pk,
    }
    return {
        label: (apps.get_model(label.rsplit(".", 1)[0]), rows[label.rsplit(".", 1)[0]])
        for label in CLINICAL_FIELDS
    }


def read_through_orm(seeded: dict[str, tuple[type, int]]) -> dict[str, str]:
    return {
        label: getattr(model.objects.get(pk=pk), label.rsplit(".", 1)[1])
        for label, (model, pk) in seeded.items()
    }


def raw_rows(model: type) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (a model's own table name)
        return repr(cursor.fetchall())


def stored(model: type, field_name: str, pk: int) -> str:
    for page in stored_values(model.objects.filter(pk=pk), field_name, batch_size=10):
        return page[0][1]
    raise AssertionError("no stored value")


def test_every_clinical_free_text_field_is_encrypted():
    found = {f"{model._meta.label}.{field.name}" for model, field in encrypted_fields()}

    assert found == CLINICAL_FIELDS


def test_the_orm_reads_back_what_it_wrote():
    seeded = seed_every_encrypted_field()

    assert read_through_orm(seeded) == {label: canary(label) for label in CLINICAL_FIELDS}


def test_the_tables_hold_no_clear_text_while_the_orm_reads_it():
    seeded = seed_every_encrypted_field()
    dumped = "".join(raw_rows(model) for model, _ in seeded.values())

    assert [label for label in CLINICAL_FIELDS if canary(label) in dumped] == []
    assert "CANARY" not in dumped
    assert read_through_orm(seeded) == {label: canary(label) for label in CLINICAL_FIELDS}


def test_a_blank_note_is_stored_blank_and_still_filters():
    enrolment = EnrolmentFactory()
    Enrolment.objects.filter(pk=enrolment.pk).update(leave_note="")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT leave_note FROM group_sessions_enrolment WHERE id = %s", [enrolment.pk]
        )
        assert cursor.fetchone() == ("",)
    assert list(Enrolment.objects.filter(leave_note="").values_list("pk", flat=True)) == [
        enrolment.pk
    ]
    assert Enrolment.objects.filter(leave_note__in=[""]).count() == 1
    assert Enrolment.objects.filter(leave_note__isnull=True).count() == 0
    assert Enrolment.objects.exclude(leave_note="").count() == 0


def test_the_same_text_is_stored_differently_each_time():
    first = crypto.encrypt("Same note")
    second = crypto.encrypt("Same note")

    assert (first != second, crypto.decrypt(first), crypto.decrypt(second)) == (
        True,
        "Same note",
        "Same note",
    )


@pytest.mark.parametrize(
    "lookup",
    [
        {"acute_illness_note": "CANARY"},
        {"acute_illness_note__icontains": "canary"},
        {"acute_illness_note__startswith": "C"},
        {"acute_illness_note__in": ["", "CANARY"]},
        {"acute_illness_note__lower": "canary"},
        {"acute_illness_note__gt": ""},
    ],
    ids=lambda lookup: next(iter(lookup)),
)
def test_searching_an_encrypted_field_is_refused_with_a_clear_error(lookup):
    with pytest.raises(EncryptedLookupError) as raised:
        list(Screening.objects.filter(**lookup))

    assert str(raised.value).startswith(
        "Screening.acute_illness_note is encrypted at rest, so it cannot be searched"
    )


def test_rows_under_an_old_key_stay_readable_once_a_new_key_comes_first():
    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        seeded = seed_every_encrypted_field()

    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert read_through_orm(seeded) == {label: canary(label) for label in CLINICAL_FIELDS}


def test_rotation_moves_every_value_to_the_new_key_so_the_old_one_can_go(capsys):
    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        seeded = seed_every_encrypted_field()
        staff = UserFactory()
        mfa_enrol(staff)

    secrets = Authenticator.objects.count()  # every staff member the factories made, too

    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        pending = len(CLINICAL_FIELDS) + secrets
        with pytest.raises(CommandError, match=rf"^{pending} value\(s\) are not under the newest"):
            call_command("encryption_rotate", "--check")
        capsys.readouterr()
        call_command("encryption_rotate", "--batch-size", "2")
        rotated = capsys.readouterr().out
        call_command("encryption_rotate")
        again = capsys.readouterr().out
        call_command("encryption_rotate", "--check")

    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert read_through_orm(seeded) == {label: canary(label) for label in CLINICAL_FIELDS}
        assert TOTP(Authenticator.objects.get(user=staff)).validate_code(current_code())
    assert sorted(rotated.splitlines()) == sorted(
        [f"{label}: 1 re-encrypted, 0 current" for label in CLINICAL_FIELDS]
        + [f"mfa.Authenticator.data: {secrets} re-encrypted, 0 current"]
    )
    assert sorted(again.splitlines()) == sorted(
        [f"{label}: 0 re-encrypted, 1 current" for label in CLINICAL_FIELDS]
        + [f"mfa.Authenticator.data: 0 re-encrypted, {secrets} current"]
    )


def test_rotation_changes_no_clear_text_and_no_updated_at():
    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        enrolment = EnrolmentFactory()
        Enrolment.objects.filter(pk=enrolment.pk).update(leave_note="Moved away")
    before = Enrolment.objects.values_list("updated_at", flat=True).get(pk=enrolment.pk)

    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        call_command("encryption_rotate", stdout=io.StringIO())
        token = stored(Enrolment, "leave_note", enrolment.pk)
        assert crypto.is_current(token)

    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert Enrolment.objects.values_list("leave_note", "updated_at").get(pk=enrolment.pk) == (
            "Moved away",
            before,
        )


def test_a_value_under_a_dropped_key_gives_an_error_naming_the_setting():
    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        enrolment = EnrolmentFactory()
        Enrolment.objects.filter(pk=enrolment.pk).update(leave_note="Moved away")
    Authenticator.objects.all().delete()  # only the note is under the dropped key

    with override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        with pytest.raises(crypto.MissingEncryptionKeyError) as raised:
            Enrolment.objects.get(pk=enrolment.pk)
        with pytest.raises(CommandError) as failed:
            call_command("encryption_rotate", stdout=io.StringIO())

    assert str(raised.value).startswith(
        "A value of Enrolment.leave_note cannot be decrypted: the key it was encrypted with "
        "is missing from GROUPCARE_FIELD_ENCRYPTION_KEYS"
    )
    assert str(failed.value).startswith(
        "1 value(s) cannot be decrypted with any key in GROUPCARE_FIELD_ENCRYPTION_KEYS "
        f"(group_sessions.Enrolment.leave_note #{enrolment.pk})."
    )


@pytest.mark.parametrize("keys", [[], ["not-a-key"]], ids=["empty", "malformed"])
def test_unusable_keys_are_named_without_showing_them(keys):
    with (
        override_settings(GROUPCARE_FIELD_ENCRYPTION_KEYS=keys),
        pytest.raises(CommandError) as raised,
    ):
        call_command("encryption_rotate")

    assert "GROUPCARE_FIELD_ENCRYPTION_KEYS" in str(raised.value)
    assert "not-a-key" not in str(raised.value)


def test_the_migration_encrypts_existing_rows_and_its_reverse_decrypts_them():
    migration = importlib.import_module("sessions.migrations.0007_encrypt_clinical_notes")
    enrolment = EnrolmentFactory()
    store_values(Enrolment, "leave_note", {enrolment.pk: "Written in the clear"}, batch_size=10)

    migration.encrypt_existing(apps, None)
    token = stored(Enrolment, "leave_note", enrolment.pk)
    migration.encrypt_existing(apps, None)

    assert (crypto.decrypt(token), stored(Enrolment, "leave_note", enrolment.pk)) == (
        "Written in the clear",
        token,
    )
    assert Enrolment.objects.get(pk=enrolment.pk).leave_note == "Written in the clear"
    migration.decrypt_existing(apps, None)
    assert stored(Enrolment, "leave_note", enrolment.pk) == "Written in the clear"


def current_code(secret: str = TEST_TOTP_SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_a_totp_secret_is_stored_encrypted_and_still_checks_codes():
    user = UserFactory()
    mfa_enrol(user)
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)

    assert TEST_TOTP_SECRET not in raw_rows(Authenticator)
    assert crypto.decrypt(authenticator.data["secret"]) == TEST_TOTP_SECRET
    assert TOTP(authenticator).validate_code(current_code())


def test_a_totp_secret_stored_in_the_clear_works_until_rotation_encrypts_it(capsys):
    user = UserFactory()
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": TEST_TOTP_SECRET}
    )

    call_command("encryption_rotate")

    authenticator = Authenticator.objects.get(user=user)
    assert "mfa.Authenticator.data: 1 re-encrypted, 0 current" in capsys.readouterr().out
    assert crypto.decrypt(authenticator.data["secret"]) == TEST_TOTP_SECRET
    assert TOTP(authenticator).validate_code(current_code())


def pg_dump() -> str | None:
    candidate = "/usr/lib/postgresql/15/bin/pg_dump"
    return candidate if os.path.exists(candidate) else shutil.which("pg_dump")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_clinical_text():
    binary = pg_dump()
    if binary is None:
        pytest.skip("needs pg_dump")
    seeded = seed_every_encrypted_field()
    db = connection.settings_dict
    command = [binary, "--data-only", "--no-owner", "--dbname", db["NAME"]]
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            command += [option, str(db[key])]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}

    dump = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout

    group_name = Enrolment.objects.select_related("group").get().group.name
    assert group_name in dump  # the dump holds the data, only not the notes
    assert [label for label in CLINICAL_FIELDS if canary(label) in dump] == []
    assert "CANARY" not in dump
    assert read_through_orm(seeded) == {label: canary(label) for label in CLINICAL_FIELDS}


def test_a_cancelled_session_reason_is_read_through_the_orm():
    session = GroupSessionFactory(status=SessionStatus.CANCELLED, cancel_reason="Room flooded")

    assert GroupSession.objects.values_list("cancel_reason", flat=True).get(pk=session.pk) == (
        "Room flooded"
    )


def test_a_recovery_code_seed_is_stored_encrypted_and_still_gives_the_codes():
    user = UserFactory()
    codes = RecoveryCodes.activate(user)
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    seed = crypto.decrypt(authenticator.data["seed"])

    assert seed not in raw_rows(Authenticator)
    assert RecoveryCodes(authenticator).generate_codes() == codes.generate_codes()
    assert RecoveryCodes(authenticator).validate_code(codes.generate_codes()[0])
