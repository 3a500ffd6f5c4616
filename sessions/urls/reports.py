"""Clinic oversight: the groups overview and the attendance report with its downloads."""

from django.urls import URLPattern, path

from sessions.views import reports

urlpatterns: list[URLPattern] = [
    path("groups/", reports.group_list, name="group-list"),
    path("reports/attendance/", reports.attendance_report_page, name="attendance-report"),
    path("reports/attendance.csv", reports.attendance_report_csv, name="attendance-report-csv"),
    path("reports/attendance.xlsx", reports.attendance_report_xlsx, name="attendance-report-xlsx"),
]
