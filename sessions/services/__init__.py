"""Every write of the group programme, by entity: groups and stages, scheduling, enrolment
and screening, waitlist offers, agreements and attendance."""
