"""Every write of the group programme, by entity: groups (and stages), scheduling,
enrolment (with screening, waitlist and agreements) and attendance."""
