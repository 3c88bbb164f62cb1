"""The portal's Taipy application: the pages, the navigation hook that loads a page's data when
it is opened, sign-in and the hardened server around them (wdc_portal/auth/), and `serve()`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import ModuleType

from flask import Flask
from taipy.gui import Gui, State

from wdc_portal.auth.accounts import AccountStore
from wdc_portal.auth.guard import (
    ClientBindings,
    PortalFlask,
    PortalGui,
    extra_origins,
    install_client_guard,
    origin_allowed,
)
from wdc_portal.auth.signin import AuthConfig, install, signed_in
from wdc_portal.context import DEFAULT_DAGSTER_URL, configure, portal

log = logging.getLogger(__name__)

TITLE = "WDC data-product portal"


def _pages() -> dict[str, ModuleType]:
    # Imported once the context is configured: page modules read it when they load.
    from wdc_portal.pages import access, kpis, lineage, marketplace, monitoring, product

    return {
        "marketplace": marketplace,
        "product": product,
        "lineage": lineage,
        "kpis": kpis,
        "monitoring": monitoring,
        "access": access,
    }


# The websocket reaches these callbacks and nothing else (guard.PortalGui): a page's callbacks
# by name, as its Markdown names them in on_action= / on_change= (test_portal_auth checks that
# every name a page uses is here).
CALLBACKS: dict[str, tuple[str, ...]] = {
    "marketplace": ("apply_filters", "open_product"),
    "product": ("show", "show_as_of"),
    "lineage": ("show",),
    "access": ("request_access", "approve", "reject"),
}


def callbacks(modules: dict[str, ModuleType]) -> list[Callable]:
    return [getattr(modules[page], name) for page, names in CALLBACKS.items() for name in names]


def portal_flask(config: AuthConfig | None = None) -> Flask:
    """The Flask app Taipy runs on, with sign-in and the guards installed."""
    p = portal()
    config = config or AuthConfig.from_env()
    app = PortalFlask("wdc_portal", static_folder=None)
    store = AccountStore(p.lake)
    if config.mode == "local":
        store.ensure_admin()
    install(app, store, config, p.domains)
    return app


def build_gui(app: Flask | None = None) -> Gui:
    # lazy: as the pages above, once the context is configured
    from wdc_portal.pages import root

    modules = _pages()
    app = app or portal_flask(AuthConfig.from_env())
    bindings = ClientBindings()
    install_client_guard(app, bindings)

    def on_navigate(state: State, page_name: str, params: dict[str, str]) -> str:
        user = signed_in()
        root.show_user(state, user.label if user else "")
        module = modules.get(page_name)
        if module is not None:
            try:
                module.load(state, params or {})
            except Exception:  # a page that cannot load shows its last data, not a blank tab
                log.exception("loading page %s failed", page_name)
        return page_name

    pages = {"/": root.page, **{name: module.page for name, module in modules.items()}}
    gui = PortalGui(pages=pages, flask=app, callbacks=callbacks(modules), bindings=bindings)
    gui.on_navigate = on_navigate
    return gui


def server_config() -> dict[str, object]:
    """Taipy's server settings: CORS only for the extra origins (none by default: the portal is
    same-origin), and the socket's origin check the same as the WSGI guard's."""
    extra = extra_origins()
    return {
        "cors": {"origins": extra, "supports_credentials": True} if extra else False,
        "socketio": {
            "cors_allowed_origins": lambda origin, environ: origin_allowed(environ, extra)
        },
    }


def _warm_lineage(compute: Callable[[], object]) -> None:
    try:
        compute()
    except Exception:  # the lineage page reports it when opened
        log.exception("column lineage could not be computed")


def serve(
    host: str = "127.0.0.1",
    port: int = 8050,
    dagster_url: str = DEFAULT_DAGSTER_URL,
    extra: dict[str, object] | None = None,
) -> None:
    """Serve the portal until interrupted."""
    configure(dagster_url)
    # one INFO line per HTTP request otherwise
    logging.getLogger("geventwebsocket.handler").setLevel(logging.WARNING)
    gui = build_gui(portal_flask(AuthConfig.from_env()))
    # The lineage needs a dbt compile and a sqlglot pass (seconds): start it now, not on the
    # first visit to the lineage page.
    from wdc_portal.data.lineage import lineage_graph

    threading.Thread(target=_warm_lineage, args=(lineage_graph,), daemon=True).start()
    log.info("portal on http://%s:%d (Dagster UI links to %s)", host, port, dagster_url)
    gui.run(
        host=host,
        port=port,
        title=TITLE,
        run_browser=False,
        use_reloader=False,
        dark_mode=False,
        watermark="",
        server_config=server_config(),
        **(extra or {}),
    )
