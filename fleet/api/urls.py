"""Driver API routes, mounted at /api/v1/driver/."""

from django.urls import path

from fleet.api import views

urlpatterns = [
    path("tours/", views.ToursView.as_view(), name="driver-tours"),
    path("jobs/<uuid:job_id>/", views.JobView.as_view(), name="driver-job"),
    path("jobs/<uuid:job_id>/events/", views.JobEventsView.as_view(), name="driver-job-events"),
    path("jobs/<uuid:job_id>/epod/", views.EpodView.as_view(), name="driver-job-epod"),
    path("jobs/<uuid:job_id>/batch-data/", views.BatchDataView.as_view(), name="driver-job-batch-data"),
    path("positions/", views.PositionsView.as_view(), name="driver-positions"),
    path("messages/", views.MessagesView.as_view(), name="driver-messages"),
    path("messages/<uuid:message_id>/read/", views.MessageReadView.as_view(), name="driver-message-read"),
    path("call-requests/", views.CallRequestsView.as_view(), name="driver-call-requests"),
    path("epod/<uuid:epod_id>/pdf/", views.EpodPdfView.as_view(), name="driver-epod-pdf"),
]
