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

from console.reconcile import drift_check, drift_report, drift_resend
from console.views import (
    dashboard,
    dispatch,
    exports,
    lifecycle,
    order_actions,
    orders,
    phone_orders,
    queues,
    search,
    second_factor,
)
from oms.lib.throttle import too_many_requests, write_wait

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
    # The kind of write whose POSTs are rate-limited per user and per object (oms.lib.throttle).
    throttle: str = ""


def _post(route: str, view: Callable, name: str, *perms: str, throttle: str = "") -> Route:
    return Route(route, view, name, perms, ("POST",), throttle)


def _get(route: str, view: Callable, name: str, *perms: str) -> Route:
    return Route(route, view, name, perms)


ROUTES: list[Route] = [
    _get("", search.console_index, "console-index", VIEW_ORDER, DISPATCH),
    _get("search/", search.search, "console-search", VIEW_ORDER),
    _get("dashboard/", dashboard.dashboard, "console-dashboard", VIEW_ORDER, DISPATCH),
    # customers
    _get("customers/<int:pk>/", search.customer_360, "console-customer", "customers.view_customer"),
    _post(
        "customers/<int:pk>/invite/",
        search.customer_invite,
        "console-customer-invite",
        "customers.change_customer",
    ),
    # order page and actions
    _get("orders/<int:pk>/", orders.order_page, "console-order", VIEW_ORDER),
    _get("jobs/<int:pk>/epod/<str:kind>", orders.epod_file, "console-epod-file", VIEW_ORDER),
    _post("orders/<int:pk>/confirm/", order_actions.order_confirm, "console-order-confirm", CHANGE_ORDER),
    _post("orders/<int:pk>/hold/", order_actions.order_hold, "console-order-hold", CHANGE_ORDER),
    _post("orders/<int:pk>/release/", order_actions.order_release, "console-order-release", CHANGE_ORDER),
    _post(
        "orders/<int:pk>/cancel/",
        order_actions.order_cancel,
        "console-order-cancel",
        "orders.cancel_order",
        throttle="cancel",
    ),
    _post(
        "orders/<int:pk>/cancel/approve/",
        order_actions.order_cancel_approve,
        "console-order-cancel-approve",
        "orders.approve_cancellation",
    ),
    _post(
        "orders/<int:pk>/cancel/reject/",
        order_actions.order_cancel_reject,
        "console-order-cancel-reject",
        "orders.approve_cancellation",
    ),
    _post(
        "orders/<int:pk>/correct/",
        order_actions.order_correct,
        "console-order-correct",
        "orders.correct_order",
    ),
    _post(
        "orders/<int:pk>/returns/",
        order_actions.order_return_create,
        "console-order-return",
        "orders.manage_returns",
        throttle="return",
    ),
    _post(
        "returns/<int:pk>/approve/",
        order_actions.return_approve,
        "console-return-approve",
        "orders.manage_returns",
    ),
    _post(
        "returns/<int:pk>/reject/",
        order_actions.return_reject,
        "console-return-reject",
        "orders.manage_returns",
    ),
    _post(
        "returns/<int:pk>/receive/",
        order_actions.return_receive,
        "console-return-receive",
        "orders.manage_returns",
    ),
    _post(
        "orders/<int:pk>/resend/",
        order_actions.order_resend,
        "console-order-resend",
        "erp_sync.replay_outbox",
    ),
    _post(
        "orders/<int:pk>/message/",
        order_actions.order_message,
        "console-order-message",
        CHANGE_ORDER,
        throttle="message",
    ),
    # the delivery lifecycle (docs/lifecycle.md)
    _post(
        "orders/<int:pk>/call-off/",
        lifecycle.order_call_off,
        "console-order-call-off",
        CHANGE_ORDER,
        throttle="call_off",
    ),
    _post("orders/<int:pk>/pause/", lifecycle.order_pause, "console-order-pause", CHANGE_ORDER, DISPATCH),
    _post("orders/<int:pk>/resume/", lifecycle.order_resume, "console-order-resume", CHANGE_ORDER, DISPATCH),
    _post(
        "orders/<int:pk>/spacing/", lifecycle.order_spacing, "console-order-spacing", CHANGE_ORDER, DISPATCH
    ),
    _post(
        "jobs/<int:pk>/cancel/", lifecycle.job_cancel, "console-job-cancel", "orders.cancel_order", DISPATCH
    ),
    _post("jobs/<int:pk>/redeliver/", lifecycle.job_redeliver, "console-job-redeliver", DISPATCH),
    _post("jobs/<int:pk>/amend/", lifecycle.job_amend, "console-job-amend", "orders.correct_order"),
    _post(
        "returns/<int:pk>/pickup/", lifecycle.return_pickup, "console-return-pickup", "orders.manage_returns"
    ),
    _post(
        "jobs/<int:pk>/collected/",
        lifecycle.return_pickup_collected,
        "console-job-collected",
        "orders.manage_returns",
    ),
    # phone orders
    Route(
        "orders/new/",
        phone_orders.phone_order,
        "console-phone-order",
        ("orders.place_phone_order",),
        ("GET", "POST"),
        throttle="order",
    ),
    _get("availability/", phone_orders.availability, "console-availability", "orders.place_phone_order"),
    # queues
    _get("queues/callbacks/", queues.queue_callbacks, "console-queue-callbacks", "fleet.view_callrequest"),
    _post(
        "callbacks/<int:pk>/assign/",
        queues.callback_assign,
        "console-callback-assign",
        CHANGE_ORDER,
        DISPATCH,
    ),
    _post(
        "callbacks/<int:pk>/start/", queues.callback_start, "console-callback-start", CHANGE_ORDER, DISPATCH
    ),
    _post("callbacks/<int:pk>/done/", queues.callback_done, "console-callback-done", CHANGE_ORDER, DISPATCH),
    _get(
        "queues/approvals/",
        queues.queue_approvals,
        "console-queue-approvals",
        "orders.approve_cancellation",
        "orders.manage_returns",
    ),
    _get("queues/messages/", queues.queue_messages, "console-queue-messages", "fleet.view_message"),
    _post(
        "messages/<int:pk>/reply/",
        queues.message_reply,
        "console-message-reply",
        CHANGE_ORDER,
        DISPATCH,
        throttle="message",
    ),
    # dispatch
    _get("dispatch/", dispatch.dispatch_board, "console-dispatch", DISPATCH),
    _get("dispatch/trucks.json", dispatch.dispatch_trucks, "console-dispatch-trucks", DISPATCH),
    _post("dispatch/jobs/<int:pk>/assign/", dispatch.job_assign, "console-job-assign", DISPATCH),
    _post("dispatch/tours/plan/", dispatch.tour_plan, "console-tour-plan", DISPATCH),
    _post("dispatch/tours/<int:pk>/release/", dispatch.tour_release, "console-tour-release", DISPATCH),
    _post("dispatch/orders/<int:pk>/split/", dispatch.order_split, "console-order-split", DISPATCH),
    # exports
    _get("exports/", exports.exports, "console-exports", VIEW_ORDER),
    _get("exports/orders/", exports.export_orders, "console-export-orders", VIEW_ORDER),
    _get("exports/<str:name>", exports.export_download, "console-export-download", VIEW_ORDER),
    # ERP drift (the comparison of orders with what each ERP believes)
    _get("erp/drift/", drift_report, "console-erp-drift", "erp_sync.view_orderdrift"),
    _post("erp/drift/check/", drift_check, "console-erp-drift-check", "erp_sync.replay_outbox"),
    _post("erp/drift/<int:pk>/resend/", drift_resend, "console-erp-drift-resend", "erp_sync.replay_outbox"),
]


def has_any_perm(user, perms: tuple[str, ...]) -> bool:
    return user.is_active and user.is_staff and any(user.has_perm(p) for p in perms)


def guarded(route: Route) -> Callable:
    """The view behind its permission rule and allowed methods (405 for others), and its write limit."""

    @wraps(route.view)
    def view(request, *args, **kwargs):
        if not has_any_perm(request.user, route.perms):
            raise PermissionDenied
        if request.method not in route.methods and not (request.method == "HEAD" and "GET" in route.methods):
            from django.http import HttpResponseNotAllowed

            return HttpResponseNotAllowed(route.methods)
        if route.throttle and request.method == "POST":
            target = f"{route.name}:{kwargs['pk']}" if "pk" in kwargs else None
            wait = write_wait(kind=route.throttle, user_id=request.user.pk, order=target)
            if wait is not None:
                return too_many_requests(request, wait)
        return route.view(request, *args, **kwargs)

    return view


def console_urls(site) -> list[URLPattern]:
    """URL patterns to put in front of the admin site's own (names are in the `admin` namespace)."""
    return [path(f"console/{r.route}", site.admin_view(guarded(r)), name=r.name) for r in ROUTES]


def second_factor_urls(site) -> list[URLPattern]:
    """The second-factor pages: for any staff user, before (verify, enrol) or after giving a code."""
    return [
        path("second-factor/", site.admin_view(second_factor.manage), name="second-factor"),
        path("second-factor/verify/", site.admin_view(second_factor.verify), name="second-factor-verify"),
        path("second-factor/enrol/", site.admin_view(second_factor.enrol), name="second-factor-enrol"),
        path(
            "second-factor/recovery-codes/",
            site.admin_view(second_factor.recovery_codes),
            name="second-factor-recovery-codes",
        ),
    ]
