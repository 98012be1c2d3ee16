"""A user's own settings page: time zone and API tokens."""

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from .models import TIME_ZONES, ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Token name"), max_length=100)
    expires = forms.DateTimeField(label=gettext_lazy("Expires (optional)"), required=False)
    read_only = forms.BooleanField(
        label=gettext_lazy("Read only"),
        required=False,
        help_text=gettext_lazy(
            "It can read but not change anything: the right kind for calendar "
            "subscriptions and reporting tools."
        ),
    )


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"), choices=[(z, z) for z in TIME_ZONES]
    )


class ProfileView(LoginRequiredMixin, View):
    def render_page(self, request, token_form=None, tz_form=None, new_key=None, status=200):
        return render(
            request,
            "users/profile.html",
            {
                "tokens": ApiToken.objects.filter(user=request.user),
                "token_form": token_form or TokenForm(),
                "tz_form": tz_form or TimeZoneForm(initial={"time_zone": request.user.time_zone}),
                "new_key": new_key,
            },
            status=status,
        )

    def get(self, request):
        return self.render_page(request)

    def post(self, request):
        if "revoke" in request.POST:
            pk = request.POST.get("revoke", "")
            if pk.isascii() and pk.isdigit():  # anything else names no token
                ApiToken.objects.filter(user=request.user, pk=pk).delete()
            messages.success(request, _("Token revoked."))
            return redirect("profile")
        if "time_zone" in request.POST:
            form = TimeZoneForm(request.POST)
            if not form.is_valid():
                return self.render_page(request, tz_form=form, status=400)
            request.user.time_zone = form.cleaned_data["time_zone"]
            request.user.save(update_fields=["time_zone"])
            messages.success(request, _("Time zone saved."))
            return redirect("profile")
        form = TokenForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, token_form=form, status=400)
        with transaction.atomic():
            _token, key = ApiToken.issue(
                request.user,
                form.cleaned_data["name"],
                form.cleaned_data["expires"],
                read_only=form.cleaned_data["read_only"],
            )
        return self.render_page(request, new_key=key)
