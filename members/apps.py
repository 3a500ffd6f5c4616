from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "People and clinics"

    def ready(self) -> None:
        from allauth.account.signals import password_changed, password_reset, password_set
        from allauth.mfa.signals import authenticator_added, authenticator_removed
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from members import mfa, receivers

        user_logged_in.connect(receivers.on_user_logged_in, dispatch_uid="members.logged_in")
        user_logged_out.connect(receivers.on_user_logged_out, dispatch_uid="members.logged_out")
        for signal in (password_changed, password_set, password_reset):
            signal.connect(receivers.on_password_changed, dispatch_uid="members.password")
        # Whether the signed-in user must still enrol in MFA is decided at sign-in and
        # whenever a factor comes or goes, and kept in the session.
        user_logged_in.connect(mfa.on_user_logged_in, dispatch_uid="members.mfa.logged_in")
        authenticator_added.connect(mfa.on_authenticator_changed, dispatch_uid="members.mfa.added")
        authenticator_removed.connect(
            mfa.on_authenticator_changed, dispatch_uid="members.mfa.removed"
        )
