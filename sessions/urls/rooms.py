from django.urls import path

from sessions.views import rooms

urlpatterns = [
    path("rooms/", rooms.room_list_page, name="room-list"),
    path("rooms/new/", rooms.room_create_page, name="room-create"),
    path("rooms/<int:pk>/edit/", rooms.room_edit_page, name="room-edit"),
]
