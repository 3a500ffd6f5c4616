from tests.api.matrix import NOT_FOUND, OK, Case, everyone, expect

# The record belongs to ``member``: only their own login reaches it here, staff included.
ONLY_THE_MEMBER = expect(
    admin=NOT_FOUND,
    facilitator=NOT_FOUND,
    other_facilitator=NOT_FOUND,
    member=OK,
    other_member=NOT_FOUND,
    other_clinic_admin=NOT_FOUND,
)

CASES = [
    Case("api-me-reminders", "get", lambda w: "/api/v1/me/reminders/", everyone()),
    Case(
        "api-me-reminder",
        "get",
        lambda w: f"/api/v1/me/reminders/{w.member_record.pk}/",
        ONLY_THE_MEMBER,
    ),
    Case(
        "api-me-reminder",
        "patch",
        lambda w: f"/api/v1/me/reminders/{w.member_record.pk}/",
        ONLY_THE_MEMBER,
        body=lambda w: {"reminder_offsets": [60]},
    ),
]
