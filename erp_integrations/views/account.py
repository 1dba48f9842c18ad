"""The signed-in user's own settings: the time zone their pages show times in, and
whether they get the daily ERP Integrations summary by e-mail."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import time_zone_choices
from accounts.permissions import signed_in
from accounts.services import user_set_digest_emails, user_set_time_zone


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        help_text="Times on every page are shown in this zone; point at one to see it in UTC.",
    )
    digest_emails = forms.BooleanField(
        label="Subscribe to ERP digest emails",
        required=False,
        help_text="A daily summary of the records waiting for you to export or reject, while any wait.",
    )


@require_http_methods(["GET", "POST"])
@signed_in
def account_settings(request: HttpRequest) -> HttpResponse:
    initial = {"time_zone": request.user.time_zone, "digest_emails": request.user.digest_emails}
    form = TimeZoneForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        zone = form.cleaned_data["time_zone"]
        user_set_time_zone(user=request.user, time_zone=zone)
        subscribed = form.cleaned_data["digest_emails"]
        user_set_digest_emails(user=request.user, subscribed=subscribed)
        digest = "You get the daily ERP digest email." if subscribed else "No daily ERP digest email."
        messages.success(request, f"Times are now shown in {zone.replace('_', ' ')}. {digest}")
        return redirect("account_settings")
    return render(request, "registration/account.html", {"form": form})
