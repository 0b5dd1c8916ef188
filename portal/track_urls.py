"""The public tracking page, mounted at /track/ (outside the portal's sign-in)."""

from django.urls import path

from portal import views

urlpatterns = [path("<str:token>/", views.track_page, name="track-page")]
