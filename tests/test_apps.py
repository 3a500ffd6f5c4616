from django.apps import apps


def test_django_sessions_and_group_sessions_load_side_by_side():
    assert apps.get_app_config("sessions").name == "django.contrib.sessions"
    assert apps.get_app_config("group_sessions").name == "sessions"
