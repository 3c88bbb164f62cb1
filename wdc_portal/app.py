"""The portal's Taipy application: the pages, the navigation hook that loads a page's data when
it is opened, and `serve()`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import ModuleType

from taipy.gui import Gui, State

from wdc_portal.context import DEFAULT_DAGSTER_URL, configure

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


def build_gui() -> Gui:
    from wdc_portal.pages import root

    modules = _pages()

    def on_navigate(state: State, page_name: str, params: dict[str, str]) -> str:
        module = modules.get(page_name)
        if module is not None:
            try:
                module.load(state, params or {})
            except Exception:  # a page that cannot load shows its last data, not a blank tab
                log.exception("loading page %s failed", page_name)
        return page_name

    pages = {"/": root.page, **{name: module.page for name, module in modules.items()}}
    gui = Gui(pages=pages)
    gui.on_navigate = on_navigate
    return gui


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
    gui = build_gui()
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
        **(extra or {}),
    )
