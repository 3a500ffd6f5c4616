"""Routes of exports: ``api-export-attendance``."""

from django.urls import path

from sessions.api.exports.views import AttendanceExportView

urlpatterns = [
    path("exports/attendance/", AttendanceExportView.as_view(), name="api-export-attendance"),
]
