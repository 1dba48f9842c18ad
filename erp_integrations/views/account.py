"""The signed-in user's own settings: the time zone their pages show times in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import time_zone_choices
from accounts.permissions import signed_in
from accounts.services import user_set_time_zone


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        help_text="Times on every page are shown in this zone; point at one to see it in UTC.",
    )


@require_http_methods(["GET", "POST"])
@signed_in
def account_settings(request: HttpRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST or None, initial={"time_zone": request.user.time_zone})
    if request.method == "POST" and form.is_valid():
        zone = form.cleaned_data["time_zone"]
        user_set_time_zone(user=request.user, time_zone=zone)
        messages.success(request, f"Times are now shown in {zone.replace('_', ' ')}.")
        return redirect("account_settings")
    return render(request, "registration/account.html", {"form": form})
