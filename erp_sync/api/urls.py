from django.urls import path

from erp_sync.api.views import ErpMessagesView

urlpatterns = [
    path("<str:system>/messages/", ErpMessagesView.as_view(), name="erp-messages"),
]
