"""Open the application service on a :class:`~cardservice.engine.service.Service` (the CLI's or
the daemon's): its stores, its registry and audit log, the calendar and the card face of its data
directory."""

from __future__ import annotations

from cardservice.engine.service import Service
from cardservice.face import Face
from cardservice.store.applications import ApplicationStore
from cardservice.workflow.calendar import WorkingDayCalendar
from cardservice.workflow.service import ApplicationService


def open_applications(service: Service) -> ApplicationService:
    service.home.ensure()
    store = ApplicationStore(service.stores.database("applications"))
    return ApplicationService(store, service.registry(), service.audit(),
                              WorkingDayCalendar.load(service.home.root), service.clock,
                              face=Face(home=service.home.root), site_area=service.site_area)
