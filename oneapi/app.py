"""create_app(settings): the Quart app with the core's and the plugins' blueprints."""

from __future__ import annotations

import asyncio
import logging
import secrets

from quart import Quart, request

from . import crypto
from ._http import ApiSessions, BodyRequest, upstream_client
from .billing import Pricing
from .cache import Cache
from .client_ip import TrustedProxies
from .db import Database
from .gateway import Gateway, gateway
from .ledger import Ledger, Writer
from .ledger._local import LocalQuota
from .options import Options
from .plugins import get_plugin_manager
from .registry import build_registry
from .schema import collect_apps
from .settings import Settings, load_settings
from .tokenizer import Tokenizer

__all__ = ["Gateway", "create_app", "gateway"]

log = logging.getLogger("oneapi")


def _ledger(db: Database, settings: Settings) -> Ledger:
    """Continuous group commit and holds taken in the database; or, with BATCH_UPDATE_ENABLED,
    interval flushes and holds checked in memory between them."""
    lease = settings.LEDGER_LEASE_SECONDS
    if not settings.BATCH_UPDATE_ENABLED:
        return Ledger(db, Writer(db, continuous=True), lease=lease)
    writer = Writer(db, continuous=False)
    return Ledger(db, writer, LocalQuota(db, writer, ttl=settings.BATCH_UPDATE_INTERVAL), lease=lease)


def _request_handlers(app: Quart) -> set[object]:
    """The app-wide and /v1 before/after/teardown request handlers registered so far."""
    found: set[object] = set()
    for table in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for scope in (None, "relay"):
            found.update(table.get(scope, ()))
    return found


def create_app(settings: Settings | None = None) -> Quart:
    """Build the app: plugins, registry, database, cache, HTTP client, blueprints."""
    settings = settings or load_settings()
    pm, plugins = get_plugin_manager(settings.allowed_plugins, settings.disabled_plugins)
    registry = build_registry(pm)
    options = Options(registry.options)
    secret = settings.SESSION_SECRET
    if not secret:
        secret = secrets.token_hex(32)
        log.warning("SESSION_SECRET is not set: sessions will not survive a restart")
    crypto.configure(settings.CRYPTO_SECRET)
    if not settings.CRYPTO_SECRET:
        log.warning("CRYPTO_SECRET is not set: channel keys and secret options are stored in "
                    "plaintext, as One API stores them (see README, Secrets at rest)")
    db = Database(settings, collect_apps(pm))
    gw = Gateway(
        settings=settings,
        pm=pm,
        plugins=plugins,
        registry=registry,
        db=db,
        options=options,
        cache=Cache(
            ttl=settings.sync_seconds,
            enabled=settings.MEMORY_CACHE_ENABLED,
            redis_url=settings.REDIS_CONN_STRING,
        ),
        pricing=Pricing(registry, options),
        ledger=_ledger(db, settings),
        tokenizer=Tokenizer(cache_dir=settings.TIKTOKEN_CACHE_DIR or None),
        # Reservations need an estimate, not tiktoken: the encodings (~40 MB) load only
        # when an upstream reports no usage.
        estimator=Tokenizer(approximate=True),
        session_secret=secret,
    )
    app = Quart(__name__, static_folder=None)
    app.secret_key = secret
    app.request_class = BodyRequest
    app.config["MAX_CONTENT_LENGTH"] = int(settings.MAX_REQUEST_BODY_MB * 1024 * 1024)
    app.config["BODY_TIMEOUT"] = 600
    app.config["RESPONSE_TIMEOUT"] = None
    app.config["SESSION_COOKIE_NAME"] = "session"
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.extensions["oneapi"] = gw

    from .api import api_blueprint
    from .relay.lane import FastLane
    from .relay.routes import relay_blueprint
    from .web import security_headers, web_blueprint

    app.register_blueprint(relay_blueprint())
    app.register_blueprint(api_blueprint())
    security_headers(app)
    core_handlers = _request_handlers(app)
    for plugin_name, blueprint in registry.blueprints(pm, app, gw.services):
        log.info("plugin %s adds blueprint %s", plugin_name, blueprint.name)
        app.register_blueprint(blueprint)
        gw.plugin_routes.setdefault(plugin_name, []).extend(
            rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(blueprint.name + ".")
        )
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            rule.strict_slashes = False  # One API's clients add or drop the trailing slash freely
    # First path segments plugins serve outside /api (``/mj``, say): no pages, no sessions there.
    plugin_roots = sorted({rule.split("/")[1] for rules in gw.plugin_routes.values() for rule in rules
                           if rule.count("/") > 1 and not rule.startswith("/api/")})
    app.session_interface = ApiSessions(no_session=("v1", "dashboard", *plugin_roots),
                                        secure=settings.SESSION_COOKIE_SECURE)
    app.register_blueprint(web_blueprint(not_pages=("api", "v1", "dashboard", *plugin_roots)))
    lane = FastLane(gw, app.config["MAX_CONTENT_LENGTH"], app.config["BODY_TIMEOUT"])
    if (added := _request_handlers(app) - core_handlers):
        lane.open = False  # a plugin's handlers must see every /v1 request: Quart serves them all
        log.info("plugins install request handlers (%s): /v1 is served by Quart only",
                 ", ".join(sorted(getattr(f, "__qualname__", repr(f)) for f in added)))
    app.asgi_app = lane.wrap(app.asgi_app)  # type: ignore[method-assign,assignment,arg-type]
    if settings.TRUSTED_PROXIES:  # in front of everything: the client's address behind a proxy
        app.asgi_app = TrustedProxies(app.asgi_app, settings.trusted_proxies)  # type: ignore[method-assign,assignment,arg-type]

    @app.before_request
    async def read_body() -> None:
        # Hypercorn closes a keep-alive connection whose request body was left unread,
        # which breaks the client's next request on it: read it before any early answer.
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            await request.get_data()

    @app.before_serving
    async def startup() -> None:
        await gw.db.connect()
        if settings.is_master:
            await gw.db.migrate()
            await gw.db.ensure_root()
        elif pending := await gw.db.pending_migrations():
            log.warning("schema: not migrated yet (the master node does that): %s", ", ".join(pending))
        try:
            await crypto.verify_stored()
        except crypto.SecretError as exc:
            log.critical("cannot start: %s", exc)
            await gw.db.close()  # its thread would keep the process alive
            raise
        await gw.ledger.start(reconcile_now=settings.is_master)
        await options.load()
        gw.tokenizer.approximate = options.bool("ApproximateTokenEnabled")
        await gw.cache.reload_all()
        options.on_change = gw.cache.options_changed
        gw.cache.on_options_changed = options.load
        if gw.ledger.local is not None:  # an edited quota is read again before the next reservation
            gw.cache.on_accounts_changed = gw.ledger.local.forget
        gw.cache.start()
        gw.http = upstream_client(settings.RELAY_TIMEOUT or None)
        gw.adaptors = {tid: ct.adaptor(ct, gw.http) for tid, ct in registry.channel_types.items()}
        from .jobs import start_jobs

        gw.tasks = start_jobs(gw)

    @app.after_serving
    async def shutdown() -> None:
        while gw.settling:  # settlements of the last requests, before the final batch flush
            await asyncio.gather(*list(gw.settling), return_exceptions=True)
        for task in gw.tasks:
            task.cancel()
        await asyncio.gather(*gw.tasks, return_exceptions=True)
        await gw.ledger.aclose()  # in-flight requests and their settlements are done
        if gw.http is not None:
            await gw.http.aclose()
        await gw.cache.close()
        await gw.db.close()

    return app
