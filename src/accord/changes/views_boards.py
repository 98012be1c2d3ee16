"""Approvals and advisory boards: the approver's own queue of changes awaiting their
decision, the boards (set up by administrators in the back office) with their members,
decision rule and meetings, and a meeting's agenda of changes awaiting approval and
its minutes, kept by administrators, managers and the board's chair. The rules are in
``approvals``; these views translate between HTTP and it."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max, Min, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accord.core.policy import restrict
from accord.core.views import StaffOnlyMixin

from . import approvals
from .choices import Decision, Status
from .filters import awaiting_approval_of
from .forms import AgendaForm, MeetingForm, MinutesForm
from .models import Board, BoardMeeting, Change, ChangeApproval
from .views_changes import FormActionView


# --- the approver's queue -------------------------------------------------------------------------
class MyApprovalsView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request):
        user = request.user
        pending = list(
            restrict(Change.objects.filter(awaiting_approval_of(user)), user)
            .select_related("assignment_team", "requester", "board")
            .order_by("planned_start", "pk")
        )
        decided = list(
            ChangeApproval.objects.filter(
                approver=user,
                decision__in=[Decision.APPROVE, Decision.REJECT],
                change__in=restrict(Change.objects.all(), user),
            )
            .select_related("change")
            .order_by("-decided_at", "-pk")[:20]
        )
        return render(
            request,
            "changes/approval_list.html",
            {"title": _("My approvals"), "pending": pending, "decided": decided},
        )


# --- boards and their meetings ----------------------------------------------------------------
def _board(pk):
    board = Board.objects.select_related("chair").filter(pk=pk).first()
    if board is None:
        raise Http404
    return board


class BoardListView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request):
        now = timezone.now()
        boards = Board.objects.select_related("chair").annotate(
            member_count=Count("members", distinct=True),
            next_meeting=Min("meetings__starts_at", filter=Q(meetings__starts_at__gte=now)),
            last_meeting=Max("meetings__starts_at", filter=Q(meetings__starts_at__lt=now)),
        )
        return render(
            request,
            "changes/board_list.html",
            {"title": _("Change advisory boards"), "boards": boards},
        )


class BoardDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def page(self, request, board, form=None, status=200):
        now = timezone.now()
        meetings = board.meetings.annotate(items=Count("agenda"))
        pending = restrict(
            Change.objects.filter(board=board, status=Status.AWAITING_APPROVAL), request.user
        ).order_by("planned_start", "pk")
        may_run = approvals.may_run_meetings(request.user, board)
        return render(
            request,
            "changes/board_detail.html",
            {
                "title": board.name,
                "board": board,
                "members": list(board.members.order_by("username")),
                "upcoming": list(meetings.filter(starts_at__gte=now).order_by("starts_at")),
                "past": list(meetings.filter(starts_at__lt=now).order_by("-starts_at")[:20]),
                "pending": list(pending),
                "form": (form or MeetingForm()) if may_run else None,
            },
            status=status,
        )

    def get(self, request, pk):
        return self.page(request, _board(pk))

    def post(self, request, pk):
        """A new meeting of the board."""
        board = _board(pk)
        if not approvals.may_run_meetings(request.user, board):
            raise PermissionDenied
        form = MeetingForm(request.POST)
        if not form.is_valid():
            return self.page(request, board, form, status=400)
        try:
            meeting = approvals.plan_meeting(request.user, board, form.save(commit=False))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
            return self.page(request, board, form, status=400)
        messages.success(request, _("Meeting planned."))
        return redirect("changes:meeting_detail", pk=meeting.pk)


def _meeting(pk):
    meeting = BoardMeeting.objects.select_related("board__chair").filter(pk=pk).first()
    if meeting is None:
        raise Http404
    return meeting


def meeting_context(request, meeting, *, errors=(), bound=None, open_form=None):
    user = request.user
    bound = bound or {}
    items = list(meeting.agenda.all())
    visible = {
        c.pk: c
        for c in restrict(
            Change.objects.filter(pk__in=[i.change_id for i in items]), user
        ).select_related("assignment_team")
    }
    may_run = approvals.may_run_meetings(user, meeting.board)
    candidates = []
    if may_run:
        candidates = list(
            restrict(Change.objects.filter(status=Status.AWAITING_APPROVAL), user)
            .exclude(pk__in=[i.change_id for i in items])
            .order_by("planned_start", "pk")[:50]
        )
    return {
        "title": str(meeting),
        "meeting": meeting,
        "board": meeting.board,
        "agenda": [(i, visible[i.change_id]) for i in items if i.change_id in visible],
        "hidden_items": sum(1 for i in items if i.change_id not in visible),
        "may_run": may_run,
        "candidates": candidates,
        "agenda_form": bound.get("agenda") or AgendaForm(),
        "minutes_form": bound.get("minutes") or MinutesForm(meeting=meeting),
        "errors": list(errors),
        "open_form": open_form,
    }


class MeetingDetailView(StaffOnlyMixin, LoginRequiredMixin, View):
    def get(self, request, pk):
        meeting = _meeting(pk)
        return render(request, "changes/board_meeting.html", meeting_context(request, meeting))


class MeetingActionView(FormActionView):
    """The agenda (changes awaiting approval, added and removed) and the minutes."""

    def respond(self, request, meeting, status=200, **kwargs):
        return render(
            request,
            "changes/board_meeting.html",
            meeting_context(request, meeting, **kwargs),
            status=status,
        )

    def post(self, request, pk, action):
        meeting = _meeting(pk)
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            raise Http404
        if not approvals.may_run_meetings(request.user, meeting.board):
            raise PermissionDenied
        refused = self.run(request, handler, meeting, lambda: _meeting(pk))
        if refused is not None:
            return refused
        messages.success(request, _("Saved."))
        return redirect("changes:meeting_detail", pk=pk)

    def do_agenda_add(self, request, meeting):
        data = self.use("agenda", AgendaForm(request.POST))
        change = approvals.find_change(request.user, data["change"])
        approvals.add_to_agenda(request.user, meeting, change)

    def do_agenda_remove(self, request, meeting):
        change = approvals.find_change(request.user, request.POST.get("change"))
        approvals.remove_from_agenda(request.user, meeting, change)

    def do_minutes(self, request, meeting):
        data = self.use("minutes", MinutesForm(request.POST))
        approvals.record_minutes(
            request.user, meeting, data["minutes"], expected_version=data["version"]
        )
