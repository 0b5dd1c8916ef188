"""Console routes under /admin/console/, each with the permissions it needs.

`ROUTES` is the single list of console pages and actions. Every route declares `perms`: the user
needs at least one of them (staff login is checked by the admin first). The permission tests are
generated from this list, so a route without a rule cannot slip in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, path

from console import views
from console.reconcile import drift_check, drift_report, drift_resend

VIEW_ORDER = "orders.view_order"
CHANGE_ORDER = "orders.change_order"
DISPATCH = "fleet.dispatch"


@dataclass(frozen=True)
class Route:
    route: str
    view: Callable
    name: str
    perms: tuple[str, ...]  # any one of them is enough
    methods: tuple[str, ...] = ("GET",)


def _post(route: str, view: Callable, name: str, *perms: str) -> Route:
    return Route(route, view, name, perms, ("POST",))


def _get(route: str, view: Callable, name: str, *perms: str) -> Route:
    return Route(route, view, name, perms)


ROUTES: list[Route] = [
    _get("", views.console_index, "console-index", VIEW_ORDER, DISPATCH),
    _get("search/", views.search, "console-search", VIEW_ORDER),
    # customers
    _get("customers/<int:pk>/", views.customer_360, "console-customer", "customers.view_customer"),
    _post(
        "customers/<int:pk>/invite/",
        views.customer_invite,
        "console-customer-invite",
        "customers.change_customer",
    ),
    # order page and actions
    _get("orders/<int:pk>/", views.order_page, "console-order", VIEW_ORDER),
    _post("orders/<int:pk>/confirm/", views.order_confirm, "console-order-confirm", CHANGE_ORDER),
    _post("orders/<int:pk>/hold/", views.order_hold, "console-order-hold", CHANGE_ORDER),
    _post("orders/<int:pk>/release/", views.order_release, "console-order-release", CHANGE_ORDER),
    _post("orders/<int:pk>/cancel/", views.order_cancel, "console-order-cancel", "orders.cancel_order"),
    _post(
        "orders/<int:pk>/cancel/approve/",
        views.order_cancel_approve,
        "console-order-cancel-approve",
        "orders.approve_cancellation",
    ),
    _post(
        "orders/<int:pk>/cancel/reject/",
        views.order_cancel_reject,
        "console-order-cancel-reject",
        "orders.approve_cancellation",
    ),
    _post("orders/<int:pk>/correct/", views.order_correct, "console-order-correct", "orders.correct_order"),
    _post(
        "orders/<int:pk>/returns/", views.order_return_create, "console-order-return", "orders.manage_returns"
    ),
    _post(
        "returns/<int:pk>/approve/", views.return_approve, "console-return-approve", "orders.manage_returns"
    ),
    _post("returns/<int:pk>/reject/", views.return_reject, "console-return-reject", "orders.manage_returns"),
    _post(
        "returns/<int:pk>/receive/", views.return_receive, "console-return-receive", "orders.manage_returns"
    ),
    _post("orders/<int:pk>/resend/", views.order_resend, "console-order-resend", "erp_sync.replay_outbox"),
    _post("orders/<int:pk>/message/", views.order_message, "console-order-message", CHANGE_ORDER),
    # phone orders
    Route(
        "orders/new/",
        views.phone_order,
        "console-phone-order",
        ("orders.place_phone_order",),
        ("GET", "POST"),
    ),
    _get("availability/", views.availability, "console-availability", "orders.place_phone_order"),
    # queues
    _get("queues/callbacks/", views.queue_callbacks, "console-queue-callbacks", "fleet.view_callrequest"),
    _post(
        "callbacks/<int:pk>/assign/", views.callback_assign, "console-callback-assign", CHANGE_ORDER, DISPATCH
    ),
    _post(
        "callbacks/<int:pk>/start/", views.callback_start, "console-callback-start", CHANGE_ORDER, DISPATCH
    ),
    _post("callbacks/<int:pk>/done/", views.callback_done, "console-callback-done", CHANGE_ORDER, DISPATCH),
    _get(
        "queues/approvals/",
        views.queue_approvals,
        "console-queue-approvals",
        "orders.approve_cancellation",
        "orders.manage_returns",
    ),
    _get("queues/messages/", views.queue_messages, "console-queue-messages", "fleet.view_message"),
    _post("messages/<int:pk>/reply/", views.message_reply, "console-message-reply", CHANGE_ORDER, DISPATCH),
    # dispatch
    _get("dispatch/", views.dispatch_board, "console-dispatch", DISPATCH),
    _get("dispatch/trucks.json", views.dispatch_trucks, "console-dispatch-trucks", DISPATCH),
    _post("dispatch/jobs/<int:pk>/assign/", views.job_assign, "console-job-assign", DISPATCH),
    _post("dispatch/tours/plan/", views.tour_plan, "console-tour-plan", DISPATCH),
    _post("dispatch/orders/<int:pk>/split/", views.order_split, "console-order-split", DISPATCH),
    # ERP drift (the comparison of orders with what each ERP believes)
    _get("erp/drift/", drift_report, "console-erp-drift", "erp_sync.view_orderdrift"),
    _post("erp/drift/check/", drift_check, "console-erp-drift-check", "erp_sync.replay_outbox"),
    _post("erp/drift/<int:pk>/resend/", drift_resend, "console-erp-drift-resend", "erp_sync.replay_outbox"),
    # exports
    _get("exports/", views.exports, "console-exports", VIEW_ORDER),
    _get("exports/orders/", views.export_orders, "console-export-orders", VIEW_ORDER),
    _get("exports/<str:name>", views.export_download, "console-export-download", VIEW_ORDER),
]


def has_any_perm(user, perms: tuple[str, ...]) -> bool:
    return user.is_active and user.is_staff and any(user.has_perm(p) for p in perms)


def guarded(route: Route) -> Callable:
    """The view behind its permission rule and allowed methods (405 for others)."""

    @wraps(route.view)
    def view(request, *args, **kwargs):
        if not has_any_perm(request.user, route.perms):
            raise PermissionDenied
        if request.method not in route.methods and not (request.method == "HEAD" and "GET" in route.methods):
            from django.http import HttpResponseNotAllowed

            return HttpResponseNotAllowed(route.methods)
        return route.view(request, *args, **kwargs)

    return view


def console_urls(site) -> list[URLPattern]:
    """URL patterns to put in front of the admin site's own (names are in the `admin` namespace)."""
    return [path(f"console/{r.route}", site.admin_view(guarded(r)), name=r.name) for r in ROUTES]
