"""Work queues: call-back requests, requests awaiting approval and messages awaiting a reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from console import forms, selectors, services
from console.views.common import act, actor, form_error_redirect, page_context, post_only, safe_back
from fleet.models import CallRequest, SenderRole
from fleet.services import comms


def queue_callbacks(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/console/queue_callbacks.html",
        page_context(
            request,
            _("Call-back requests"),
            calls=selectors.callback_queue(),
            outcome_form=forms.OutcomeForm(),
        ),
    )


def _call_action(
    request: HttpRequest, pk: int, done: str, call: Callable[[CallRequest], Any]
) -> HttpResponse:
    post_only(request)
    call_request = selectors.call_request_get(pk=pk)
    back = safe_back(request, reverse("admin:console-queue-callbacks"))
    return act(request, call_request, done, lambda: call(call_request), back)


def callback_assign(request: HttpRequest, pk: int) -> HttpResponse:
    return _call_action(
        request,
        pk,
        _("Call-back assigned to you."),
        lambda c: comms.call_request_assign(call=c, user=request.user, actor=actor(request)),
    )


def callback_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _call_action(
        request,
        pk,
        _("Call-back started."),
        lambda c: comms.call_request_start(call=c, actor=actor(request)),
    )


def callback_done(request: HttpRequest, pk: int) -> HttpResponse:
    outcome = request.POST.get("outcome", "")
    return _call_action(
        request,
        pk,
        _("Call-back done."),
        lambda c: comms.call_request_done(call=c, outcome=outcome, actor=actor(request)),
    )


def queue_approvals(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/console/queue_approvals.html",
        page_context(
            request,
            _("Requests awaiting approval"),
            reason_form=forms.ReasonForm(),
            **selectors.approval_queue(),
        ),
    )


def queue_messages(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/console/queue_messages.html",
        page_context(
            request,
            _("Messages awaiting reply"),
            inbound=selectors.messages_awaiting_reply(),
            reply_form=forms.ReplyForm(),
        ),
    )


def message_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Reply in the message's thread (optional) and mark it handled."""
    post_only(request)
    message = selectors.message_get(pk=pk)
    form = forms.ReplyForm(request.POST)
    back = safe_back(request, reverse("admin:console-queue-messages"))
    if not form.is_valid():
        return form_error_redirect(request, form, back)
    body = form.cleaned_data["body"].strip()
    role = SenderRole.DISPATCHER if not request.user.has_perm("orders.change_order") else SenderRole.REP
    done = _("Reply sent.") if body else _("Message marked as handled.")
    return act(
        request,
        message.order or message,
        done,
        lambda: services.message_reply(
            message=message,
            body=body,
            sender_role=role,
            sender=request.user.get_username(),
            actor=actor(request),
        ),
        back,
    )
