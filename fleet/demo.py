"""Demo tours: today's scheduled and in-delivery orders on trucks, for the board and the map."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from catalog.models import Plant
from fleet.models import Job, JobLine, JobStatus, LoadingStatus, Tour, TourStatus
from fleet.services.common import new_ticket, new_tour_number
from orders.models import Fulfilment, Order, OrderStatus


def seed_tours(rng: random.Random) -> int:
    """Today's tours with jobs for the orders in scheduled / in-delivery states."""
    today = timezone.now().date()
    made = 0
    for plant in Plant.objects.filter(active=True):
        trucks = list(plant.trucks.filter(active=True))
        drivers = list(plant.drivers.filter(active=True))
        orders = list(
            Order.objects.filter(
                plant=plant,
                status__in=[OrderStatus.SCHEDULED, OrderStatus.IN_DELIVERY],
                fulfilment=Fulfilment.DELIVERY,
                jobs__isnull=True,
            ).prefetch_related("lines")[: len(trucks) * 3]
        )
        for i, (truck, driver) in enumerate(zip(trucks, drivers, strict=False)):
            mine = orders[i :: len(trucks)]
            if not mine:
                continue
            tour = Tour.objects.create(
                number=new_tour_number(),
                date=today,
                plant=plant,
                truck=truck,
                driver=driver,
                status=TourStatus.RELEASED,
                planned_start=datetime.combine(today, time(6), tzinfo=UTC),
            )
            for seq, order in enumerate(mine, start=1):
                in_delivery = order.status == OrderStatus.IN_DELIVERY
                job = Job.objects.create(
                    tour=tour,
                    sequence=seq,
                    order=order,
                    plant=plant,
                    ticket=new_ticket(),
                    status=JobStatus.EN_ROUTE if in_delivery else JobStatus.ASSIGNED,
                    loading_status=LoadingStatus.LOADED if in_delivery else LoadingStatus.NOT_STARTED,
                    planned_at=timezone.now() + timedelta(hours=seq),
                    eta=timezone.now() + timedelta(minutes=20 + 30 * seq),
                )
                JobLine.objects.bulk_create(
                    [
                        JobLine(
                            job=job,
                            order_line=line,
                            planned=line.quantity,
                            loaded=line.quantity if in_delivery else Decimal(0),
                        )
                        for line in order.lines.all()
                    ]
                )
                made += 1
    return made
