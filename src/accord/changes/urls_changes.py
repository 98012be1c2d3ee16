"""URLs of the change pages, the approver's queue and the advisory boards."""

from django.urls import path

from . import views_boards, views_changes

urlpatterns = [
    path("", views_changes.ChangeListView.as_view(), name="list"),
    path("new/", views_changes.ChangeCreateView.as_view(), name="create"),
    path("approvals/", views_boards.MyApprovalsView.as_view(), name="my_approvals"),
    path("boards/", views_boards.BoardListView.as_view(), name="board_list"),
    path("boards/<int:pk>/", views_boards.BoardDetailView.as_view(), name="board_detail"),
    path(
        "boards/meetings/<int:pk>/",
        views_boards.MeetingDetailView.as_view(),
        name="meeting_detail",
    ),
    path(
        "boards/meetings/<int:pk>/<slug:action>/",
        views_boards.MeetingActionView.as_view(),
        name="meeting_action",
    ),
    path("<int:pk>/", views_changes.ChangeDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views_changes.ChangeEditView.as_view(), name="edit"),
    path("<int:pk>/<slug:action>/", views_changes.ChangeActionView.as_view(), name="action"),
]
