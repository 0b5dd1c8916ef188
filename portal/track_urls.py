"""The public tracking page, mounted at /track/ (outside the portal's sign-in)."""

from django.urls import path

from portal.views import tracking

urlpatterns = [path("<str:token>/", tracking.track_page, name="track-page")]
