"""The audit log is a hash chain that cannot be rewritten unnoticed, and on PostgreSQL
cannot be rewritten at all: a trigger refuses UPDATE and DELETE of entries."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import IntegrityError, InternalError, connection, connections, transaction

from members.audit_chain import CHAINED_FIELDS, GENESIS, entry_digest
from members.audit_context import RequestMeta, current_request_meta
from members.models import AuditChainHead, AuditEntry
from members.selectors import audit_chain_verify
from members.services import AuditChainBrokenError, audit_log
from members.tasks import audit_chain_check_task
from tests.factories.members import ClinicFactory, UserFactory

pytestmark = pytest.mark.django_db

TRIGGER = "members_auditentry_append_only"


def _log(count: int) -> list[AuditEntry]:
    clinic, actor = ClinicFactory(), UserFactory()
    return [
        audit_log(
            action=f"members.test.step{i}",
            actor=actor if i % 2 else None,
            clinic=clinic,
            obj=clinic,
            data={"step": i, "member_ids": [i, i + 1]},
        )
        for i in range(count)
    ]


def _chain() -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("seq"))


def _raw(sql: str, params: tuple = ()) -> None:
    """Run ``sql`` behind the application's back, as someone with database access would;
    on PostgreSQL with the append-only trigger switched off for the statement."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _check_deferred_constraints(cursor)
            cursor.execute(f"ALTER TABLE members_auditentry DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            _check_deferred_constraints(cursor)
            cursor.execute(f"ALTER TABLE members_auditentry ENABLE TRIGGER {TRIGGER}")


def _check_deferred_constraints(cursor) -> None:
    """PostgreSQL alters or truncates no table with foreign-key checks still pending in
    the transaction (the test's own, which wrote the entries); run them now."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _verify_fails() -> str:
    with pytest.raises(CommandError) as error:
        call_command("audit_verify")
    return str(error.value)


# --- The chain --------------------------------------------------------------------------


def test_entries_link_into_one_chain_in_the_order_they_were_written():
    entries = _log(30)

    chain = _chain()

    assert [entry.pk for entry in chain] == [entry.pk for entry in entries]
    assert [entry.seq for entry in chain] == list(range(1, 31))
    assert [entry.prev_hash for entry in chain] == [GENESIS] + [e.entry_hash for e in chain[:-1]]
    assert len({entry.entry_hash for entry in chain}) == 30
    head = AuditChainHead.objects.get()
    assert (head.pk, head.seq, head.last_hash) == (1, 30, chain[-1].entry_hash)


def test_each_hash_covers_the_entry_as_read_back_from_the_database():
    token = current_request_meta.set(
        RequestMeta(ip_address="2001:0DB8:0000:0000::0001", user_agent="Tablet/1.0 (Ünïcode)")
    )
    try:
        written = audit_log(
            action="members.test.done",
            actor=UserFactory(),
            clinic=ClinicFactory(),
            data={"z": [1, 2.5, None, True], "a": {"nested": "é"}},
        )
    finally:
        current_request_meta.reset(token)

    read = AuditEntry.objects.get(pk=written.pk)

    assert read.ip_address == "2001:db8::1"
    assert read.entry_hash == written.entry_hash
    assert entry_digest({name: getattr(read, name) for name in CHAINED_FIELDS}) == read.entry_hash


def test_writing_an_entry_takes_three_queries(django_assert_num_queries):
    clinic = ClinicFactory()
    audit_log(action="members.test.first", actor=None, clinic=clinic)

    with django_assert_num_queries(3):
        audit_log(action="members.test.second", actor=None, clinic=clinic)


def test_a_missing_head_over_an_empty_log_starts_the_chain_again():
    AuditChainHead.objects.all().delete()

    entry = audit_log(action="members.test.first", actor=None)

    assert (entry.seq, entry.prev_hash) == (1, GENESIS)
    assert audit_chain_verify().intact


def test_a_missing_head_with_entries_left_stops_the_log_instead_of_hiding_it():
    _log(3)
    AuditChainHead.objects.all().delete()

    with pytest.raises(AuditChainBrokenError, match="chain head is missing"), transaction.atomic():
        audit_log(action="members.test.after", actor=None)

    assert AuditEntry.objects.count() == 3
    assert audit_chain_verify().reason == "head mismatch"


def test_a_second_entry_at_the_same_place_in_the_chain_is_refused():
    _log(2)
    AuditChainHead.objects.update(seq=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        audit_log(action="members.test.fork", actor=None)

    assert list(AuditEntry.objects.values_list("seq", flat=True).order_by("seq")) == [1, 2]


# --- audit_verify ------------------------------------------------------------------------


def test_verify_passes_an_intact_log(capsys):
    _log(12)

    call_command("audit_verify")

    assert capsys.readouterr().out == "Audit log intact: 12 entries.\n"


def test_verify_passes_an_empty_log(capsys):
    call_command("audit_verify")

    assert capsys.readouterr().out == "Audit log intact: 0 entries.\n"


def test_verify_names_an_altered_entry():
    entries = _log(5)
    _raw("UPDATE members_auditentry SET action = %s WHERE id = %s", ("x.y.z", entries[2].pk))

    assert _verify_fails() == (
        f"Audit log broken at entry #{entries[2].pk}: altered (its contents do not match its "
        "hash). 2 entries before it are intact."
    )


def test_verify_names_the_entry_after_one_rewritten_with_a_fresh_hash():
    entries = _log(5)
    victim = AuditEntry.objects.get(pk=entries[2].pk)
    victim.action = "x.y.z"
    new_hash = entry_digest({name: getattr(victim, name) for name in CHAINED_FIELDS})
    _raw(
        "UPDATE members_auditentry SET action = %s, entry_hash = %s WHERE id = %s",
        ("x.y.z", new_hash, victim.pk),
    )

    assert _verify_fails().startswith(
        f"Audit log broken at entry #{entries[3].pk}: altered before "
        "(it does not link to the hash of the entry before)."
    )


def test_verify_names_the_entry_after_a_deleted_one():
    entries = _log(5)
    _raw("DELETE FROM members_auditentry WHERE id = %s", (entries[1].pk,))

    assert _verify_fails() == (
        f"Audit log broken at entry #{entries[2].pk}: missing before (its seq is 3, the one "
        "before is 1). 1 entries before it are intact."
    )


def test_verify_notices_a_deleted_last_entry():
    entries = _log(5)
    _raw("DELETE FROM members_auditentry WHERE id = %s", (entries[4].pk,))

    assert _verify_fails() == (
        f"Audit log broken at entry #{entries[3].pk}: head mismatch (the chain head is at seq "
        "5, the last entry at seq 4). 4 entries before it are intact."
    )


def test_verify_notices_an_entry_added_behind_the_heads_back():
    entries = _log(3)
    last = entries[-1]
    _raw(
        "INSERT INTO members_auditentry (at, action, object_type, object_id, data, user_agent,"
        " seq, prev_hash, entry_hash) SELECT at, action, object_type, object_id, data,"
        " user_agent, 4, entry_hash, entry_hash FROM members_auditentry WHERE id = %s",
        (last.pk,),
    )
    forged = AuditEntry.objects.get(seq=4)
    forged_hash = entry_digest({name: getattr(forged, name) for name in CHAINED_FIELDS})
    _raw("UPDATE members_auditentry SET entry_hash = %s WHERE seq = 4", (forged_hash,))

    assert _verify_fails() == (
        f"Audit log broken at entry #{forged.pk}: head mismatch (the chain head is at seq 3, "
        "the last entry at seq 4). 4 entries before it are intact."
    )


def test_verify_notices_a_head_that_does_not_match_the_last_entry():
    entries = _log(3)
    AuditChainHead.objects.update(last_hash="f" * 64)

    assert _verify_fails() == (
        f"Audit log broken at entry #{entries[-1].pk}: head mismatch (the chain head's hash is "
        "not that of the entry at seq 3). 3 entries before it are intact."
    )


def test_verify_exits_with_a_non_zero_status_on_tampering(capsys, monkeypatch):
    entries = _log(3)
    _raw("UPDATE members_auditentry SET object_id = %s WHERE id = %s", ("999", entries[0].pk))
    # The command line closes every connection on the way out, the test's own included.
    monkeypatch.setattr(connections, "close_all", lambda: None)

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "audit_verify"])

    assert exited.value.code == 1
    assert f"Audit log broken at entry #{entries[0].pk}: altered" in capsys.readouterr().err


# --- PostgreSQL: append-only in the database, and no fork under concurrent writers -----


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE members_auditentry SET action = 'x.y.z' WHERE id = %s",
        "DELETE FROM members_auditentry WHERE id = %s",
    ],
)
def test_the_database_refuses_to_update_or_delete_an_entry(sql):
    entry = _log(1)[0]

    with (
        pytest.raises(InternalError, match="The audit log is append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, (entry.pk,))

    assert AuditEntry.objects.get(pk=entry.pk).action == entry.action


@pytest.mark.postgres
def test_the_database_still_lets_a_test_database_be_flushed():
    _log(2)

    with connection.cursor() as cursor:
        _check_deferred_constraints(cursor)
        cursor.execute("TRUNCATE members_auditentry")

    assert not AuditEntry.objects.exists()


THREADS, PER_THREAD = 8, 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_leave_one_intact_chain():
    before = AuditEntry.objects.count()
    barrier = threading.Barrier(THREADS)

    def write(thread: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(PER_THREAD):
                audit_log(action="members.test.concurrent", actor=None, data={"t": thread, "i": i})
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(write, range(THREADS)))

    check = audit_chain_verify()
    written = AuditEntry.objects.filter(action="members.test.concurrent")
    assert (check.intact, check.entries) == (True, before + THREADS * PER_THREAD)
    assert sorted((e.data["t"], e.data["i"]) for e in written) == [
        (t, i) for t in range(THREADS) for i in range(PER_THREAD)
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_writer_that_found_no_head_continues_the_one_a_concurrent_writer_created():
    # A flushed database: no head, no entries. The first writer creates the head; the
    # second looks for it before the first commits (and finds none), and goes on only after
    # the first has committed its head and entry. It must continue that chain, not take
    # the first writer's entry for entries orphaned by tampering.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE members_auditentry, members_auditchainhead")
    first_wrote, second_looked, first_committed = (threading.Event() for _ in range(3))

    def first() -> None:
        try:
            with transaction.atomic():
                audit_log(action="members.test.first", actor=None)
                first_wrote.set()
                assert second_looked.wait(timeout=30)
            first_committed.set()
        finally:
            connection.close()

    def pause_after_looking_for_the_head(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "members_auditchainhead" in sql and not second_looked.is_set():
            second_looked.set()
            assert first_committed.wait(timeout=30)
        return result

    def second() -> AuditEntry:
        try:
            assert first_wrote.wait(timeout=30)
            with connection.execute_wrapper(pause_after_looking_for_the_head):
                return audit_log(action="members.test.second", actor=None)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first_done, second_done = pool.submit(first), pool.submit(second)
        first_done.result(timeout=60)
        entry = second_done.result(timeout=60)

    assert entry.seq == 2
    check = audit_chain_verify()
    assert (check.intact, check.entries) == (True, 2)


# --- The nightly check ------------------------------------------------------------------


def test_the_nightly_check_is_scheduled_and_the_worker_knows_it():
    from django.conf import settings

    from groupcare.celery import app as celery_app

    entry = settings.CELERY_BEAT_SCHEDULE["audit-chain-check"]
    assert entry["task"] == "groupcare.members.audit_chain_check"
    celery_app.loader.import_default_modules()
    assert entry["task"] in celery_app.tasks


def test_the_nightly_check_logs_the_head_of_an_intact_chain(caplog):
    _log(3)
    head = AuditChainHead.objects.get()

    with caplog.at_level(logging.INFO, logger="members.tasks"):
        result = audit_chain_check_task.apply().get()

    assert result == {
        "intact": True,
        "entries": 3,
        "head_seq": head.seq,
        "head_hash": head.last_hash,
        "broken_at": None,
    }
    [record] = [r for r in caplog.records if r.name == "members.tasks"]
    assert record.levelno == logging.INFO
    assert head.last_hash in record.getMessage()


def test_the_nightly_check_logs_a_break_as_an_error(caplog):
    entries = _log(4)
    _raw("UPDATE members_auditentry SET action = %s WHERE id = %s", ("x.y.z", entries[1].pk))

    with caplog.at_level(logging.INFO, logger="members.tasks"):
        result = audit_chain_check_task.apply().get()

    assert (result["intact"], result["broken_at"]) == (False, entries[1].pk)
    [record] = [r for r in caplog.records if r.name == "members.tasks"]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(f"audit chain broken at entry {entries[1].pk}: altered")
