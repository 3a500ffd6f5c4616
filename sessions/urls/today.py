from django.urls import path

from sessions.views.today import today

urlpatterns = [
    path("today/", today, name="today"),
]
