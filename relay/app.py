"""The ASGI application: routes, and the lifespan that builds and tears down the relay's parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from relay.admin import api as admin_api
from relay.admin import dashboard
from relay.admin import reports as admin_reports
from relay.admin import results as admin_results
from relay.audiences import api as audience_api
from relay.audiences.lookalike import LookalikeEnv, LookalikeKeeper
from relay.audiences.scheduler import AudienceScheduler
from relay.catalog import admin as catalog_admin
from relay.catalog.scheduler import CatalogScheduler
from relay.catalog.sync import CatalogEnv
from relay.delivery.housekeeping import Housekeeper
from relay.delivery.worker import Worker
from relay.http import browser, server_api
from relay.http.auth import load_credentials
from relay.http.fast import FastPathMiddleware, HotPath
from relay.http.middleware import SecurityHeadersMiddleware, TrustedProxyMiddleware
from relay.http.ops import healthz, metrics, readyz
from relay.http.responses import error
from relay.ingest.intake import Intake
from relay.ingest.pipeline import Ingestor
from relay.ingest.writer import GroupCommitWriter
from relay.metrics import Metrics
from relay.proxies import ProxyList
from relay.reconcile.scheduler import ReconcileScheduler
from relay.registry import ConnectorType
from relay.settings import Settings
from relay.state import RelayState, build_connectors, make_client
from relay.storage import queries
from relay.storage.db import Database
from relay.storage.outbox import SqlOutbox

log = logging.getLogger("relay.app")


def routes(sandbox: list[BaseRoute], hot: HotPath) -> list[BaseRoute]:
    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/p.gif", hot.endpoint(browser.pixel_gif), methods=["GET"]),
        Route("/pixel.js", browser.pixel_js, methods=["GET"]),
        Route("/v1/collect", hot.endpoint(browser.collect), methods=["POST"]),
        Route("/v1/collect", browser.collect_preflight, methods=["OPTIONS"]),
        Route("/v1/events", server_api.post_events, methods=["POST"]),
        Route("/v1/audiences/{name}/members", audience_api.post_members, methods=["POST"]),
        Route("/v1/users", audience_api.delete_user, methods=["DELETE"]),
        Route("/admin", dashboard.dashboard),
        Route("/admin/", dashboard.dashboard),
        Route("/admin/login", dashboard.login, methods=["POST"]),
        Route("/admin/logout", dashboard.logout, methods=["GET", "POST"]),
        Route("/admin/api/deliveries", admin_api.deliveries),
        Route("/admin/api/replay", admin_api.replay, methods=["POST"]),
        Route("/admin/api/stats", admin_api.stats),
        Route("/admin/api/events/{event_id:path}", admin_api.event_trace),
        Route("/admin/api/connectors", admin_api.connectors),
        Route("/admin/api/connectors/{name}/resume", admin_api.resume, methods=["POST"]),
        Route("/admin/api/timeseries", admin_reports.timeseries),
        Route("/admin/api/coverage", admin_reports.coverage),
        Route("/admin/api/audiences", admin_reports.audiences),
        Route("/admin/api/catalog", catalog_admin.report),
        Route("/admin/results", admin_results.page),
        Route("/admin/api/results", admin_results.results),
        Route("/admin/api/reconcile", admin_results.reconcile_runs),
        Route("/admin/api/audiences/{name}/runs", admin_reports.audience_runs),
        Route("/admin/{rest:path}", admin_api.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        *sandbox,
    ]


async def http_error(request: Request, exc: Exception) -> Response:
    """Routing errors in the contract's JSON shape (404 not_found; other statuses keep theirs)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error("not_found", f"no such endpoint: {request.method} {request.url.path}")
    code = "method_not_allowed" if exc.status_code == 405 else f"http_{exc.status_code}"
    return JSONResponse({"error": code, "detail": str(exc.detail)}, exc.status_code, headers=exc.headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug, never a client's mistake: logged with its traceback, answered without details."""
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse({"error": "internal_error", "detail": "the relay failed; see its log"}, 500)


def create_app(
    settings: Settings,
    *,
    run_worker: bool = True,
    types: dict[str, ConnectorType] | None = None,
    announce: Any = print,
    on_started: Callable[[], None] | None = None,
) -> Starlette:
    """Build the app; storage, connectors, ingest and the worker start in its lifespan, then
    ``on_started`` runs (the process entry point's hook, e.g. freezing the start-up heap)."""
    from relay.sandbox import build_sandbox

    fakes, sandbox_routes = build_sandbox(settings) if settings.sandbox else ({}, [])
    hot = HotPath()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        relay = await start(settings, types=types, announce=announce)
        relay.extras["sandbox"] = fakes
        intake = start_intake(relay)
        app.state.relay, app.state.intake, hot.intake = relay, intake, intake
        background = start_background(relay) if run_worker else None
        if on_started is not None:
            on_started()
        try:
            yield
        finally:
            hot.intake = None
            if background is not None:
                await background.aclose()
            await intake.writer.aclose()
            await stop(relay)

    app = Starlette(
        routes=routes(sandbox_routes, hot),
        lifespan=lifespan,
        middleware=[
            # outermost: the two hot ingest endpoints skip the rest of the stack (they add its headers)
            Middleware(FastPathMiddleware, hot),
            Middleware(SecurityHeadersMiddleware),
            Middleware(TrustedProxyMiddleware, ProxyList(settings.server.trusted_proxies)),
        ],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
    )
    app.state.sandbox = fakes
    app.state.settings = settings  # relay.server reads the HTTP limits from it
    return app


async def start(
    settings: Settings, *, types: dict[str, ConnectorType] | None = None, announce: Any = print
) -> RelayState:
    """Open storage (migrating it), load credentials, build connectors: the parts every command shares
    (ingest has its own, :func:`start_intake`)."""
    db = Database(settings.storage.url, synchronous=settings.storage.synchronous)
    await db.run(db.migrate)
    db.start_checkpointer()
    credentials = await db.run(load_credentials, db, settings.server)
    announce_generated(credentials.generated, announce)
    metrics = Metrics()
    metrics.watch_outbox(lambda: queries.pending_counts(db.engine))
    client = make_client(settings)
    connectors = build_connectors(settings, client, types)
    relay = RelayState(
        settings=settings,
        db=db,
        metrics=metrics,
        client=client,
        connectors=connectors,
        credentials=credentials,
        proxies=ProxyList(settings.server.trusted_proxies),
    )
    resumed = await db.run(queries.resume_reconfigured, db.engine, relay.config_hashes)
    for name in resumed:
        log.info("connector resumed: its configuration changed", extra={"connector": name})
    return relay


def start_intake(relay: RelayState) -> Intake:
    """What the ingest handlers use: the pipeline and a running group-commit writer of their own."""
    settings = relay.settings
    writer = GroupCommitWriter(SqlOutbox(relay.db))
    writer.start()
    return Intake(
        server=settings.server,
        ingestor=Ingestor(settings, relay.connectors, relay.metrics),
        writer=writer,
        metrics=relay.metrics,
        proxies=relay.proxies,
        credentials=relay.credentials,
    )


def announce_generated(generated: Sequence[tuple[str, str]], announce: Callable[[str], Any]) -> None:
    """Secrets generated at first start are shown once, on the console, never in the log."""
    for name, value in generated:
        label = "API key" if name == "api_key" else "admin token"
        announce(f"relay: generated {label} (shown once, store it now): {value}")


class Background:
    """The delivery worker, the audience scheduler and the housekeeper, as tasks of the current loop."""

    def __init__(self, relay: RelayState) -> None:
        self.relay = relay
        settings = relay.settings
        self.worker = Worker(
            SqlOutbox(relay.db),
            relay.connectors,
            settings.delivery,
            relay.metrics,
            config_hashes=relay.config_hashes,
        )
        self.housekeeper = Housekeeper(relay.db, settings.storage.retention_days)
        self.scheduler = AudienceScheduler(relay)
        self.catalogs = CatalogScheduler(CatalogEnv(settings, relay.db, relay.connectors, relay.client))
        self.lookalikes = LookalikeKeeper(LookalikeEnv(settings, relay.db, relay.connectors))
        self.reconciler = ReconcileScheduler(relay)
        self.grace = settings.delivery.lease_seconds
        self.tasks = [
            asyncio.create_task(self.worker.run(), name="relay-worker"),
            asyncio.create_task(self.scheduler.run(), name="relay-audiences"),
            asyncio.create_task(self.housekeeper.run(), name="relay-housekeeping"),
            asyncio.create_task(self.catalogs.run(), name="relay-catalogs"),
            asyncio.create_task(self.lookalikes.run(), name="relay-lookalikes"),
            asyncio.create_task(self.reconciler.run(), name="relay-reconcile"),
        ]
        relay.on_resume.append(self.worker.resumed)
        relay.extras["audience_scheduler"] = self.scheduler

    async def aclose(self) -> None:
        """Stop claiming; a batch in flight finishes (or its lease returns it after ``grace``)."""
        self.worker.stop()
        with contextlib.suppress(ValueError):
            self.relay.on_resume.remove(self.worker.resumed)
        self.scheduler.stop()
        self.housekeeper.stop()
        self.catalogs.stop()
        self.lookalikes.stop()
        self.reconciler.stop()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.gather(*self.tasks), self.grace)


def start_background(relay: RelayState) -> Background:
    return Background(relay)


async def stop(relay: RelayState) -> None:
    for connector in relay.connectors.values():
        await connector.aclose()
    await relay.client.aclose()
    await asyncio.get_running_loop().run_in_executor(None, relay.db.close)
