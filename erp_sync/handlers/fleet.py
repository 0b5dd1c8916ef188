"""Fleet messages from the ERP: loading status and delivery, homerun, return, cancellation tasks."""

from __future__ import annotations

from erp_sync.handlers.base import Context, HandlerError

NOT_SUPPORTED = "{type} cannot be applied yet: the fleet services are not available."


def order_loading_status(ctx: Context) -> None:
    raise HandlerError(NOT_SUPPORTED.format(type="order.loading_status"))


def task_delivery(ctx: Context) -> None:
    raise HandlerError(NOT_SUPPORTED.format(type="task.delivery"))


def task_homerun(ctx: Context) -> None:
    raise HandlerError(NOT_SUPPORTED.format(type="task.homerun"))


def task_return(ctx: Context) -> None:
    raise HandlerError(NOT_SUPPORTED.format(type="task.return"))


def task_cancellation(ctx: Context) -> None:
    raise HandlerError(NOT_SUPPORTED.format(type="task.cancellation"))
