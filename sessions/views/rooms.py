"""Rooms of the admin's clinics: list, add, edit.

Clinic admins only: other signed-in people get 403; a room of a clinic the viewer does not
work in is 404 (one of a clinic where they are only a facilitator, 403). A refused write
(a name in use, a capacity below one) is shown next to its field with status 200.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from groupcare.forms import add_refusal
from members.models import Clinic
from members.selectors import admin_clinic_list
from sessions.errors import NameInUseError
from sessions.forms.rooms import RoomForm
from sessions.models import Room
from sessions.selectors.groups import room_list
from sessions.services.groups import room_create, room_update

PER_PAGE = 25


def _admin_clinics(request: HttpRequest) -> QuerySet[Clinic]:
    clinics = admin_clinic_list(user=request.user)
    if not clinics:  # evaluated once here, its rows cached for the callers
        raise PermissionDenied("Only a clinic admin manages rooms.")
    return clinics


@login_required
@require_http_methods(["GET"])
def room_list_page(request: HttpRequest) -> HttpResponse:
    clinics = _admin_clinics(request)
    rooms = room_list(user=request.user).filter(can_manage=True).select_related("clinic")
    page_obj = Paginator(rooms, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "sessions/room_list.html",
        {"page_obj": page_obj, "several_clinics": clinics.count() > 1},
    )


@login_required
@require_http_methods(["GET", "POST"])
def room_create_page(request: HttpRequest) -> HttpResponse:
    clinics = _admin_clinics(request)
    form = RoomForm(request.POST if request.method == "POST" else None, clinics=clinics)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            room = room_create(
                clinic=form.chosen_clinic(),
                name=data["name"],
                capacity=data["capacity"],
                by=request.user,
            )
        except (NameInUseError, ValidationError) as exc:
            add_refusal(form, exc, field="name")
        else:
            messages.success(request, f"{room.name} was added.")
            return HttpResponseRedirect(reverse("sessions:room-list"))
    return render(request, "sessions/room_form.html", {"form": form, "room": None})


@login_required
@require_http_methods(["GET", "POST"])
def room_edit_page(request: HttpRequest, pk: int) -> HttpResponse:
    _admin_clinics(request)
    room: Room = get_object_or_404(room_list(user=request.user).select_related("clinic"), pk=pk)
    if not room.can_manage:  # type: ignore[attr-defined]
        raise PermissionDenied("Only a clinic admin may change its rooms.")
    form = RoomForm(
        request.POST if request.method == "POST" else None,
        editing=True,
        initial={"name": room.name, "capacity": room.capacity, "is_active": room.is_active},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            room_update(
                room=room,
                by=request.user,
                name=data["name"],
                capacity=data["capacity"],
                is_active=data["is_active"],
            )
        except (NameInUseError, ValidationError) as exc:
            add_refusal(form, exc, field="name")
        else:
            messages.success(request, f"{room.name} was saved.")
            return HttpResponseRedirect(reverse("sessions:room-list"))
    return render(request, "sessions/room_form.html", {"form": form, "room": room})
