"""What happens when someone signs in or out or changes their password (connected in
:meth:`members.apps.MembersConfig.ready`). Each receiver only hands over to a service or
to :mod:`members.session_timeouts`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from members.models import User
from members.services import user_sessions_end_all
from members.session_timeouts import TIMED_OUT_ATTR, now_seconds, session_limits_start


def on_user_logged_in(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    """Start the session's logoff clock (Django's signal: allauth's sign-in, the admin's
    and the test client's ``force_login`` all send it, after the session key changed)."""
    session = getattr(request, "session", None)
    if session is not None:
        session_limits_start(session, user=user, now=now_seconds())


def on_user_logged_out(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser | None, **kwargs: Any
) -> None:
    """Signing out (here or in the Django admin) ends the person's other sessions too; a
    session that timed out ends alone."""
    if not isinstance(user, User) or getattr(request, TIMED_OUT_ATTR, False):
        return
    user_sessions_end_all(user=user)


def on_password_changed(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    """A new password ends every other session. Django already refuses them (their password
    hash no longer matches); this also removes them from the list of the person's sessions."""
    if not isinstance(user, User):
        return
    session = getattr(request, "session", None)
    user_sessions_end_all(
        user=user,
        except_session_key=session.session_key if session is not None else None,
        reason="password_changed",
    )
