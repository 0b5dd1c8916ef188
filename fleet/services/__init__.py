"""Fleet writes. Every public function is one transaction: lock → check → change → events → outbox.

Modules: `dispatch` (split, plan, release, assign, homerun, cancel), `driving` (job status events,
positions), `epod` (proof of delivery, PDF), `comms` (batch data, messages, call requests), `erp`
(inbound ERP tasks and loading status), `master` (trucks and drivers from the ERP). Their module
docstrings give the signatures.
"""

from fleet.services.comms import (
    batch_record_create,
    call_request_create,
    driver_notify,
    message_driver_read,
    message_post,
)
from fleet.services.dispatch import (
    job_assign,
    job_cancel,
    job_create_homerun,
    order_split_into_jobs,
    tour_plan,
    tour_release,
)
from fleet.services.driving import job_status_apply, positions_compact, positions_ingest
from fleet.services.epod import epod_pdf_render, epod_submit
from fleet.services.erp import (
    order_loading_status_apply,
    task_cancellation_apply,
    task_delivery_apply,
    task_homerun_apply,
    task_return_apply,
)
from fleet.services.master import driver_upsert, truck_upsert

__all__ = [
    "batch_record_create",
    "call_request_create",
    "driver_upsert",
    "driver_notify",
    "epod_pdf_render",
    "epod_submit",
    "job_assign",
    "job_cancel",
    "job_create_homerun",
    "job_status_apply",
    "message_driver_read",
    "message_post",
    "order_loading_status_apply",
    "order_split_into_jobs",
    "positions_compact",
    "positions_ingest",
    "task_cancellation_apply",
    "task_delivery_apply",
    "task_homerun_apply",
    "task_return_apply",
    "tour_plan",
    "tour_release",
    "truck_upsert",
]
