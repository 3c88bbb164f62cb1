"""dbt in the Dagster process: dbt's programmatic runner (`dbtRunner`) with a manifest parsed
once per process, instead of dagster-dbt's `dbt` subprocess per step.

Why: a day of the mesh makes ten dbt invocations (each domain's source tests in the raw gate, then
each domain's build). As subprocesses each paid ≈3.5 s before doing any work — a fresh Python
importing dbt-core (≈2.5 s), loading the partial-parse state, re-initialising the adapter — which
made the orchestration cost more than the work (docs/benchmarks.md: 57 s of dbt steps for 9 s of
dbt work at SF 1). In-process, the first invocation loads the project once (partial parse from
the prepared state, ≈2 s) and every later one goes straight to running nodes.

What stays as with dagster-dbt: the selection for the step's asset subset and the translation of
dbt's result events into Dagster outputs and check results are dagster-dbt's own
(`get_updated_cli_invocation_params_for_context`, `DbtCoreCliEventMessage`); the artifacts and
dbt's debug log go to a target folder of the invocation's own, kept when it fails.

dbt keeps process-wide state (flags, adapter, event manager): one invocation at a time per
process, which Dagster's executors give (a step runs alone in its process, and the in-process
executor runs steps one after another); a lock makes it explicit."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import (
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from wdc_orchestration.dbt import flag_source
from wdc_orchestration.dbt.manifest import (
    DBT_LOCK,
    PARSED_MANIFESTS,
    close_duckdb_environment,
    dbt_args,
    dbt_environment,
    dbt_target_dir,
    ensure_manifest,
    kept_manifest,
    manifest_key,
    parse_fingerprint,
    remember_manifest,
)
from wdc_orchestration.dbt.manifest import DbtRunError as DbtRunError
from wdc_orchestration.dbt.manifest import parse_project as parse_project
from wdc_orchestration.dbt.project import dbt_project, load_manifest, translator
from wdc_orchestration.lakehouse.run_window import RunWindow, invocation_env
from wdc_orchestration.settings import (
    DBT_PROJECT_DIR,
    MASK,
    ducklake_catalog_from_env,
    mask_secrets,
)

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest
    from dbt_common.events.base_types import EventMsg

log = logging.getLogger(__name__)

flag_source.install()  # before any invocation makes an adapter (dbt/flag_source.py)

# dbt's result events, the ones dagster-dbt turns into outputs and check results.
_RESULT_EVENTS = frozenset(
    {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"}
)

CATALOG_VARIABLE = "WDC_DUCKLAKE_CATALOG"


@dataclass
class DbtRun:
    """One finished dbt invocation."""

    command: str
    success: bool
    target_path: Path
    seconds: float
    results: list[Any] = field(default_factory=list)  # dbt's RunResult objects
    events: list[DbtCoreCliEventMessage] = field(default_factory=list)  # result events
    errors: list[str] = field(default_factory=list)

    def result_by_unique_id(self) -> dict[str, Any]:
        return {result.node.unique_id: result for result in self.results}

    def error(self) -> DbtRunError:
        details = "\n".join(f"- {message}" for message in self.errors) or "- (no message)"
        return DbtRunError(
            description=f"`dbt {self.command}` failed:\n{details}\n"
            f"dbt's debug log: {self.target_path / 'dbt.log'}",
            metadata={"dbt_target_path": str(self.target_path)},
        )

    def cleanup(self, keep_on_failure: bool = True) -> None:
        """Remove the invocation's artifacts (Dagster kept what they reported); a failed one's
        stay for debugging unless the failure was an expected outcome (a failing test)."""
        if self.success or not keep_on_failure:
            shutil.rmtree(self.target_path, ignore_errors=True)


# dbt's level -> the platform log's: dbt's chatter is DEBUG there (node results reach the step's
# log instead); its warnings and errors stay what they are.
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.DEBUG, "warn": logging.WARNING}


def _reset_compilation(manifest: Manifest) -> None:
    """Forget what an earlier invocation compiled into the shared manifest. dbt compiles into the
    manifest's nodes and marks ephemeral CTEs as injected; reused as is, the next invocation
    re-renders a model without re-injecting its CTEs ("__dbt__cte__... does not exist").
    An inline query (`dbt show --inline`) whose run failed stays in the manifest (dbt removes
    it only after a run that completes); left there, the next inline query is refused as a
    second "inline_query"."""
    for unique_id in [uid for uid in manifest.nodes if uid.startswith("sql_operation.")]:
        del manifest.nodes[unique_id]
    for node in manifest.nodes.values():
        if hasattr(node, "extra_ctes_injected"):
            node.compiled = False
            node.compiled_code = None
            node.extra_ctes = []
            node.extra_ctes_injected = False
            node._pre_injected_sql = None


def _slowest(results: list[Any], count: int = 3) -> str:
    """The nodes that took longest, for the summary line: where a growing step spends its time
    (bench.incremental reads them from the platform log)."""
    timed = [
        (float(getattr(r, "execution_time", 0.0) or 0.0), r.node.name)
        for r in results
        if getattr(r, "node", None) is not None
    ]
    top = sorted(timed, reverse=True)[:count]
    if not top or top[0][0] < 0.01:
        return ""
    return "; slowest: " + ", ".join(f"{name} {secs:.2f}s" for secs, name in top)


def _count_statuses(results: Sequence[Any]) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[str(result.status)] = counts.get(str(result.status), 0) + 1
    details = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{len(results)} node(s)" + (f": {details}" if details else "")


def _message(event: EventMsg) -> str:
    return str(event.info.msg)


class DbtRunner(dg.ConfigurableResource):
    """Runs dbt commands inside this process. Same project, profile and target settings as
    dagster-dbt's `DbtCliResource`."""

    project_dir: str
    profiles_dir: str
    target: str
    # The platform's settings as dbt's profile and plugins read them (`Settings.dbt_env()`), set
    # around each invocation (dbt/manifest.py: dbt_environment) instead of in the process's
    # environment at load. Empty: dbt reads `os.environ` as it is. A field shows in the UI: a
    # catalog with a `password=` is held masked, and the real one read from WDC_DUCKLAKE_CATALOG
    # when dbt runs (as the lakehouse resource does).
    env: dict[str, str] = {}

    def invocation_env(self) -> dict[str, str]:
        """`env` with the real catalog in place of a masked one."""
        env = dict(self.env)
        catalog = env.get(CATALOG_VARIABLE, "")
        if MASK in catalog:
            real = ducklake_catalog_from_env()
            if mask_secrets(real) != catalog:
                raise ValueError(
                    f"the dbt resource's catalog {catalog} is masked and WDC_DUCKLAKE_CATALOG "
                    "holds another one: set WDC_DUCKLAKE_CATALOG as it was"
                )
            env[CATALOG_VARIABLE] = real
        return env

    def _common_args(self, target_path: Path, project_dir: str | None = None) -> list[str]:
        return dbt_args(
            project_dir or self.project_dir, self.profiles_dir, self.target, target_path
        )

    def _manifest(self) -> Manifest:
        """The project parsed once per process (per project files and settings): partial parsing
        from the state `ensure_manifest` prepared, so this costs a load, not a parse."""
        project_dir = Path(self.project_dir)
        dbt_env = self.invocation_env()
        fingerprint = parse_fingerprint(project_dir, dbt_env)
        key = manifest_key(project_dir, fingerprint)
        shared_project = project_dir.resolve() == DBT_PROJECT_DIR.resolve()
        if key not in PARSED_MANIFESTS and shared_project:
            # prepares the partial-parse state when the project changed (a parse it makes is
            # kept, and then there is nothing left to load)
            ensure_manifest(dbt_env)
        if key in PARSED_MANIFESTS:
            return PARSED_MANIFESTS[key]
        if shared_project and (kept := kept_manifest(fingerprint)) is not None:
            return remember_manifest(key, kept)
        with tempfile.TemporaryDirectory(prefix="wdc-dbt-parse-") as scratch:
            target_dir = dbt_target_dir() if shared_project else project_dir / "target"
            prepared = target_dir / "partial_parse.msgpack"
            if prepared.exists():
                shutil.copy(prepared, Path(scratch) / prepared.name)
            return parse_project(
                project_dir,
                Path(self.profiles_dir),
                self.target,
                Path(scratch),
                fingerprint=fingerprint,
                write_json=False,
            )

    def run(
        self,
        args: Sequence[str],
        *,
        step_log: dg.DagsterLogManager | None = None,
        selection_context: dg.AssetExecutionContext | None = None,
        manifest: Mapping[str, Any] | None = None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        window: RunWindow | None = None,
        sources: Sequence[tuple[str, str]] = (),
    ) -> DbtRun:
        """Run `dbt <args>` to completion; failures and warnings go to `step_log` as they happen,
        then one summary line (each node's result is an output or check result already; a log
        line per node would double the run's event-log writes). With a
        `selection_context` (a `@dbt_assets` step), dbt selects the step's asset subset, as
        `DbtCliResource.cli(args, context=context)` does. A failed node does not raise: the caller
        reports what ran, then raises `run.error()` (see `stream`). `window` and `sources`: the
        run's days and the raw sources dbt may read, handed to this invocation only
        (lakehouse/run_window.py)."""
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import msg_to_dict

        cleaned, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=selection_context,
            manifest=manifest or {},
            dagster_dbt_translator=dagster_dbt_translator or DagsterDbtTranslator(),
            runtime_selects=selects,
            runtime_excludes=excludes,
        )
        options: dict[str, Any] = {"send_anonymous_usage_stats": False}
        if params.indirect_selection:
            options["indirect_selection"] = params.indirect_selection
        project_dir = os.fspath(params.dbt_project.project_dir) if params.dbt_project else None
        command = " ".join([*cleaned, *params.selection_args])
        target_path = Path(tempfile.mkdtemp(prefix="wdc-dbt-"))
        events: list[DbtCoreCliEventMessage] = []
        error_lines: list[str] = []

        def on_event(event: EventMsg) -> None:
            name, level = event.info.name, event.info.level
            if name in _RESULT_EVENTS:
                raw = msg_to_dict(event)
                if not raw["data"]["node_info"].get("unique_id", "").startswith("unit_test"):
                    events.append(DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={}))
                if step_log is not None and level in ("warn", "error"):
                    (step_log.error if level == "error" else step_log.warning)(_message(event))
            if level == "error":
                error_lines.append(_message(event))
            log.log(_LOG_LEVELS.get(level, logging.ERROR), "%s", _message(event))

        scope = invocation_env(window, sources) if window is not None else {}
        with DBT_LOCK, dbt_environment({**self.invocation_env(), **scope}):
            loaded = self._manifest()
            _reset_compilation(loaded)
            started = time.perf_counter()
            try:
                outcome = dbtRunner(manifest=loaded, callbacks=[on_event]).invoke(
                    [
                        *cleaned,
                        *params.selection_args,
                        *self._common_args(target_path, project_dir),
                        # results come back as objects: no manifest.json (1 MB) and
                        # run_results.json to write per invocation (≈0.05-0.2 s each)
                        "--no-write-json",
                        # the relation cache of the selected models' schemas only: by default
                        # dbt lists every schema of the project (each domain's, each audit
                        # schema) before every invocation, ten times a day
                        "--cache-selected-only",
                    ],
                    **options,
                )
            finally:
                close_duckdb_environment()
            seconds = time.perf_counter() - started
        results = list(getattr(outcome.result, "results", None) or [])
        errors = [
            f"{result.node.unique_id}: {result.status}: {result.message}"
            for result in results
            if str(result.status) in ("error", "fail", "runtime error")
        ] or error_lines
        if outcome.exception is not None:
            errors.append(f"{type(outcome.exception).__name__}: {outcome.exception}")
        summary = (
            f"dbt {command}: {'ok' if outcome.success else 'FAILED'} in {seconds:.2f}s, "
            + _count_statuses(results)
            + _slowest(results)
        )
        log.info(summary)
        if step_log is not None:
            step_log.info(summary)
        return DbtRun(
            command=command,
            success=bool(outcome.success),
            target_path=target_path,
            seconds=seconds,
            results=results,
            events=events,
            errors=errors,
        )

    def run_for_assets(
        self,
        args: Sequence[str],
        *,
        context: dg.AssetExecutionContext,
        window: RunWindow | None = None,
        sources: Sequence[tuple[str, str]] = (),
    ) -> DbtRun:
        """`dbt <args>` for a domain's dbt step (mesh/domain.py), on the step's selection; see
        `translated_events`. The step's manifest and translator are the platform's own
        (dbt/project.py), the ones its specs were built from."""
        return self.run(
            args,
            step_log=context.log,
            selection_context=context,
            manifest=load_manifest(),
            dagster_dbt_translator=translator(),
            window=window,
            sources=sources,
        )


def translated_events(run: DbtRun, context: dg.AssetExecutionContext) -> Iterator[Any]:
    """The Dagster events of what `run` did (outputs, check results), as dagster-dbt translates
    dbt's result events; whether dbt failed is the caller's to report (`run.error()`)."""
    for event in run.events:
        yield from event.to_default_asset_events(
            manifest=load_manifest(),
            dagster_dbt_translator=translator(),
            context=context,
            target_path=run.target_path,
            project=dbt_project(),
        )
