"""`wdc new-domain`, as an engineer uses it, in a temporary COPY of the project (the repository is
never written to): the copy's own CLI scaffolds a domain, and right after it

  (1) the domain loads as a Dagster code location;
  (2) `wdc policy check` passes (and `wdc contracts sync --check`: its dbt YAML is the
      descriptor's);
  (3) `wdc materialize --domains <it>` materialises two days at SF 0.01 into a temporary lake:
      its product holds exactly the raw manifests' rows, day by day, and so does its file port;
  (4) `datacontract lint` passes on its descriptor;
  (5) `dagster dev` on the copy's workspace loads it beside the five domains, and the global
      asset lineage, in Debian's chromium, shows its group and its assets (screenshot:
      test-artifacts/new_domain/global_lineage.png).

The copy runs its own code: `python -m wdc_orchestration.cli` with `cwd` and PYTHONPATH set to
it, so PROJECT_ROOT (derived from the package's location) is the copy (checked). Refusals (taken
and invalid names, bad team or owner) run in-process on small copies: one ERROR line, exit 2,
and not a byte of the copy changed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.conftest import DAY_1, DAY_2, TEST_SCALE_FACTOR
from wdc_orchestration.cli import main
from wdc_orchestration.mesh.registry import domain_modules
from wdc_orchestration.ops.deploy import code_servers, grpc_workspace_yaml
from wdc_orchestration.settings import PROJECT_ROOT, environment, isolated_lake_env

DOMAIN = "marketing"
TEAM = "Time de Marketing"
OWNER = "marketing@wdc.example"
PRODUCT = f"fct_{DOMAIN}_events"
EXISTING = ["customers", "catalog", "sales", "finance", "logistics"]
# What a copy of the project leaves out: environments, state, caches, other runs' artefacts.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".lake", ".wdc", ".env", "target", "logs", "__pycache__", ".pytest_cache",
    ".ruff_cache", "test-artifacts", "results",
)  # fmt: skip

pytestmark = [pytest.mark.e2e, pytest.mark.browser]  # scaffolds, materialises, shows it in the UI
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "new_domain"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Copy:
    """A copy of the project and the temporary lake its commands use."""

    project: Path
    lake_root: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment of the copy's commands: the copy first on the import path, a lake,
        catalog, Dagster instance and log folder of its own (no WDC_* of this session)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("WDC_")}
        return {
            **inherited,
            **isolated_lake_env(self.lake_root),
            "WDC_SCALE_FACTOR": str(TEST_SCALE_FACTOR),
            "WDC_SEED": "42",
            "PYTHONPATH": str(self.project),
        }

    def run(self, *command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command),
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def wdc(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """The copy's `wdc` (its cli module, with this environment's interpreter)."""
        return self.run(sys.executable, "-m", "wdc_orchestration.cli", *args, timeout=timeout)


def copy_project(target: Path) -> Path:
    shutil.copytree(PROJECT_ROOT, target, ignore=NOT_COPIED)
    return target


def _output(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr[-6000:]}"


@pytest.fixture(scope="module")
def scaffolded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Copy, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("new_domain")
    copy = Copy(copy_project(root / "project"), root / "lake")
    (copy.lake_root / "dagster_home").mkdir(parents=True)
    done = copy.wdc("new-domain", DOMAIN, "--team", TEAM, "--owner", OWNER)
    return copy, done


@pytest.fixture(scope="module")
def copy(scaffolded: tuple[Copy, subprocess.CompletedProcess]) -> Copy:
    copy, done = scaffolded
    assert done.returncode == 0, _output(done)
    return copy


def test_the_copy_runs_its_own_code_and_the_repository_is_untouched(copy: Copy) -> None:
    probe = copy.run(
        sys.executable,
        "-c",
        "import domains, wdc_orchestration.settings as s; print(s.PROJECT_ROOT); "
        "print(domains.__file__)",
    )
    assert probe.returncode == 0, _output(probe)
    assert probe.stdout.splitlines() == [
        str(copy.project),
        str(copy.project / "domains" / "__init__.py"),
    ]
    assert (copy.project / "domains" / DOMAIN).is_dir()
    assert not (PROJECT_ROOT / "domains" / DOMAIN).exists()
    assert DOMAIN not in (PROJECT_ROOT / "workspace.yaml").read_text()


def test_it_writes_the_domain_and_registers_it(
    scaffolded: tuple[Copy, subprocess.CompletedProcess],
) -> None:
    copy, done = scaffolded
    assert done.returncode == 0, _output(done)
    d, models = f"domains/{DOMAIN}", f"dbt_project/models/{DOMAIN}"
    assert sorted(done.stdout.splitlines()) == sorted(
        [f"wrote {d}/{name}" for name in ("__init__.py", "definitions.py", "simulator.py")]
        + [f"wrote {d}/products/{name}" for name in ("_raw_retention.yaml", f"{PRODUCT}.yaml")]
        + [f"wrote {d}/kpis.yaml", f"wrote {d}/dg.toml", f"wrote {d}/.env"]
        + [f"wrote {models}/_{DOMAIN}__groups.yml"]
        + [
            f"wrote {models}/staging/{name}"
            for name in (f"_{DOMAIN}__sources.yml", f"_{DOMAIN}__staging.yml")
        ]
        + [f"wrote {models}/staging/stg_{DOMAIN}__events.sql"]
        + [f"wrote {models}/marts/{name}" for name in (f"_{DOMAIN}__marts.yml", f"{PRODUCT}.sql")]
        + ["updated dbt_project/dbt_project.yml", "updated workspace.yaml", "updated dg.toml"]
        + ["updated deploy/workspace.grpc.yaml"]
    )
    # its gRPC code server after the others: what `wdc grpc-workspace` writes for the new list
    assert (copy.project / "deploy/workspace.grpc.yaml").read_text() == grpc_workspace_yaml(
        code_servers(domain_modules(copy.project / "workspace.yaml"))
    )
    # a dg project too, listed in the dg workspace like the others
    dg_projects = tomllib.loads((copy.project / "dg.toml").read_text())["workspace"]["projects"]
    assert dg_projects[-1] == {"path": f"domains/{DOMAIN}"}
    dg_project = tomllib.loads((copy.project / d / "dg.toml").read_text())["project"]
    assert dg_project["code_location_name"] == DOMAIN
    workspace = yaml.safe_load((copy.project / "workspace.yaml").read_text())
    locations = [e["python_module"]["location_name"] for e in workspace["load_from"]]
    assert locations == [*EXISTING, DOMAIN]
    project = yaml.safe_load((copy.project / "dbt_project/dbt_project.yml").read_text())
    folder = project["models"]["wdc"][DOMAIN]
    assert (folder["+group"], folder["+schema"], folder["marts"]) == (
        DOMAIN,
        DOMAIN,
        {"+materialized": "table"},
    )
    groups = yaml.safe_load((copy.project / models / f"_{DOMAIN}__groups.yml").read_text())
    assert groups["groups"][0]["owner"] == {"name": TEAM, "email": OWNER}
    # the rest of the project files is exactly as it was
    for name in ("workspace.yaml", "dbt_project/dbt_project.yml"):
        assert (copy.project / name).read_text().startswith((PROJECT_ROOT / name).read_text())


def test_the_generated_code_is_ruff_clean_and_the_dbt_yaml_is_the_descriptors(copy: Copy) -> None:
    package = f"domains/{DOMAIN}"
    for command in (["check", package], ["format", "--check", package]):
        done = copy.run(str(BIN / "ruff"), *command)
        assert done.returncode == 0, _output(done)
    sync = copy.wdc("contracts", "sync", "--check")
    assert sync.returncode == 0, _output(sync)
    assert "8 product(s): the dbt YAML says what the descriptors say" in sync.stderr


def test_1_it_loads_as_a_code_location(copy: Copy) -> None:
    done = copy.run(
        str(BIN / "dagster"), "definitions", "validate", "-m", f"domains.{DOMAIN}.definitions"
    )
    assert done.returncode == 0, _output(done)
    assert f"Validation successful for code location domains.{DOMAIN}.definitions" in (
        done.stdout + done.stderr
    )


def test_2_the_policy_check_passes(copy: Copy) -> None:
    # Before any run there is no lake: the contracts and the code alone (the data's turn is in
    # test_3, after the domain's first days).
    done = copy.wdc("policy", "check", "--no-data")
    assert done.returncode == 0, _output(done)
    assert done.stdout == ""  # one line per violation: none
    assert "8 products: every policy passes" in done.stderr


@pytest.fixture(scope="module")
def materialised(copy: Copy) -> Copy:
    done = copy.wdc(
        "materialize", "--domains", DOMAIN, "--start", DAY_1, "--end", DAY_2,
        "--log-level", "WARNING", timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, _output(done)
    return copy


def _manifest_rows(copy: Copy, day: str) -> int:
    manifest = copy.lake_root / f"lake/raw/{DOMAIN}/events/date={day}/_manifest.json"
    return json.loads(manifest.read_text())["rows"]


def _connect(copy: Copy) -> duckdb.DuckDBPyConnection:
    """Plain DuckDB on the copy's lakehouse, read-only, as a consumer reads it."""
    env = copy.env
    con = duckdb.connect(
        config={
            "extension_directory": str(copy.project / ".wdc/duckdb_extensions"),
            "autoinstall_known_extensions": False,
        }
    )
    con.execute(
        f"ATTACH 'ducklake:{env['WDC_DUCKLAKE_CATALOG']}' AS lakehouse "
        f"(DATA_PATH '{env['WDC_DUCKLAKE_DATA_PATH']}', READ_ONLY)"
    )
    return con


def test_3_it_materialises_two_days_with_the_raw_rows_in_its_product(materialised: Copy) -> None:
    copy = materialised
    expected = {day: _manifest_rows(copy, day) for day in (DAY_1, DAY_2)}
    assert all(rows > 0 for rows in expected.values())
    port = copy.lake_root / f"lake/products/{DOMAIN}/{PRODUCT}/v0"
    current = json.loads((port / "current.json").read_text())
    with _connect(copy) as con:
        per_day = dict(
            con.execute(
                f"select event_date::varchar, count(*) from lakehouse.{DOMAIN}.{PRODUCT} "
                "group by 1 order by 1"
            ).fetchall()
        )
        distinct_ids = con.execute(
            f"select count(distinct event_id) from lakehouse.{DOMAIN}.{PRODUCT}"
        ).fetchone()[0]
        files = [str(port / name) for name in current["files"]]
        port_rows = con.execute("select count(*) from read_parquet(?)", [files]).fetchone()[0]
    assert per_day == expected
    assert distinct_ids == sum(expected.values())
    assert port_rows == sum(expected.values())  # the file port publishes the whole product

    # and the policies hold on the data it published, not only on its contracts
    done = copy.wdc("policy", "check")
    assert done.returncode == 0, _output(done)
    assert done.stdout == ""


def test_4_datacontract_lint_passes_on_its_descriptor(copy: Copy) -> None:
    descriptor = copy.project / f"domains/{DOMAIN}/products/{PRODUCT}.yaml"
    done = copy.run(str(BIN / "datacontract"), "lint", str(descriptor), timeout=300)
    assert done.returncode == 0, _output(done)
    assert "Data contract is valid" in done.stdout


# --- (5) the global lineage in a real browser ----------------------------------------------------


def _chromium_page(playwright: Any, user_data: Path) -> Any:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (never a download)")
    context = playwright.chromium.launch_persistent_context(
        str(user_data),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1600, "height": 1000},
    )
    context.set_default_timeout(60_000)
    return context.new_page()


def _skip_the_community_dialog(page: Any) -> bool:
    """A new instance greets with "Join the Dagster community" (after the page's first queries)."""
    dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    try:
        dialog.wait_for(state="visible", timeout=15_000)
    except Exception:  # playwright's TimeoutError: not shown
        return False
    dialog.get_by_role("button", name="Skip").click()
    dialog.wait_for(state="hidden")
    return True


def test_5_it_shows_in_the_global_lineage_in_a_browser(materialised: Copy, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from devtools.devserver import DagsterDev

    copy = materialised
    env = copy.env
    home = Path(env["DAGSTER_HOME"])  # the instance `wdc materialize` recorded its runs in
    # DagsterDev.start sets DAGSTER_HOME in this process: restored afterwards
    with (
        environment({"DAGSTER_HOME": str(home)}),
        DagsterDev(home=home, workspace=copy.project / "workspace.yaml", env=env) as server,
    ):
        locations = server.locations()
        with sync_playwright() as playwright:
            page = _chromium_page(playwright, tmp_path / "chromium")
            page.goto(f"{server.url}/asset-groups")
            groups = page.locator("foreignObject.group")  # collapsed groups, one per domain
            groups.nth(len(EXISTING)).wait_for()
            dialog_shown = _skip_the_community_dialog(page)
            names = sorted(
                g.locator("div").first.inner_text().splitlines()[0] for g in groups.all()
            )
            page.get_by_role("button", name="Hide navigation").click()
            box = groups.filter(has_text=DOMAIN)
            box.get_by_role("img", name="unfold_more").click()  # expand the new domain's group
            nodes = page.locator("foreignObject:not(.group)").filter(has_text="Asset checks")
            nodes.filter(has_text=f"stg_{DOMAIN}__events").wait_for()
            for _ in range(2):  # the expanded group beside the other domains
                page.get_by_role("img", name="zoom_out").click()
            page.wait_for_timeout(2_000)  # statuses and edges settle
            texts = [node.locator("div").first.inner_text() for node in nodes.all()]
            assets = [(text.splitlines()[0], text) for text in texts]
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "global_lineage.png"))
            page.context.close()

    assert locations == {name: "LOADED" for name in [*EXISTING, DOMAIN]}
    assert dialog_shown, "no 'Join the Dagster community' dialog on the new instance"
    assert names == sorted([*EXISTING, DOMAIN])
    # the raw entity, staging, the product, its published file port (shown by its name), a KPI
    assert sorted(name for name, _ in assets) == sorted(
        ["events", f"stg_{DOMAIN}__events", PRODUCT, PRODUCT, "events_per_day"]
    )
    # the product's checks passed in the runs `wdc materialize` recorded in this instance
    assert any(name == PRODUCT and "Passed" in text for name, text in assets)
    assert (ARTIFACTS / "global_lineage.png").stat().st_size > 10_000


# --- refusals: one line, exit 2, nothing written ------------------------------------------------


def _small_copy(target: Path) -> Path:
    """What the scaffolder reads and writes: the domains, the dbt project, workspace.yaml."""
    shutil.copytree(PROJECT_ROOT / "domains", target / "domains", ignore=NOT_COPIED)
    shutil.copytree(PROJECT_ROOT / "dbt_project", target / "dbt_project", ignore=NOT_COPIED)
    shutil.copy2(PROJECT_ROOT / "workspace.yaml", target / "workspace.yaml")
    return target


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    } | {p.relative_to(root).as_posix() + "/": "" for p in root.rglob("*") if p.is_dir()}


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


TAKEN: dict[str, tuple[Callable[[Path], None], str]] = {
    "package": (lambda r: (r / "domains/ads").mkdir(), "domains/ads/ exists"),
    "dbt folder": (
        lambda r: (r / "dbt_project/models/ads").mkdir(),
        "dbt_project/models/ads/ exists",
    ),
    "workspace entry": (
        lambda r: _append(
            r / "workspace.yaml",
            "  - python_module:\n      module_name: domains.ads.definitions\n"
            "      working_directory: .\n      location_name: ads\n",
        ),
        "workspace.yaml has the location ads",
    ),
    "dbt group": (
        lambda r: (r / "dbt_project/models/sales/_ads__groups.yml").write_text(
            "groups:\n  - name: ads\n    owner: {email: ads@wdc.example}\n"
        ),
        "a dbt group ads exists",
    ),
    "dbt schema": (
        lambda r: _append(
            r / "dbt_project/models/sales/staging/_sales__staging.yml",
            "\n  - name: stg_sales__ads\n    config: {schema: ads}\n",
        ),
        "a dbt schema ads exists",
    ),
    "dbt model": (
        lambda r: (r / "dbt_project/models/sales/marts/fct_ads_events.sql").write_text("select 1"),
        "a dbt model fct_ads_events exists",
    ),
}

INVALID = {
    "an existing domain": (["sales"], "'sales' exists already: domains/sales/ exists;"),
    "upper case": (["Ads"], "'Ads' is not a valid domain name: lowercase snake_case"),
    "a leading digit": (["9ads"], "'9ads' is not a valid domain name"),
    "a hyphen": (["paid-ads"], "'paid-ads' is not a valid domain name"),
    "a double underscore": (["paid__ads"], "no double underscore"),
    "a Python keyword": (["class"], "'class' is a Python keyword"),
    "the audit suffix": (["sales__audit"], "clashes with the audit schemas (<domain>__audit"),
    "_shared": (["_shared"], "'_shared' is reserved: domains/_shared is the simulated company"),
    "mesh": (["mesh"], "'mesh' is reserved: the whole mesh's job is mesh_daily"),
    "DuckDB's main schema": (["main"], "'main' is reserved"),
    "a long name": (["a" * 31], "is 31 characters long: at most 30"),
    "a bad owner": (["ads", "--owner", "ads-at-wdc"], "owner 'ads-at-wdc' is not an e-mail"),
    "a bad team": (["ads", "--team", 'say "hi"'], "is not a team name"),
}


def _refused(
    project: Path, args: list[str], caplog: pytest.LogCaptureFixture
) -> tuple[int, list[str]]:
    options = {"--team": "Time de Anúncios", "--owner": "ads@wdc.example"}
    name, rest = args[0], args[1:]
    options |= dict(zip(rest[::2], rest[1::2], strict=True))
    caplog.clear()
    with caplog.at_level(logging.ERROR), environment({"WDC_LOG_DIR": str(project.parent)}):
        code = main(
            ["new-domain", name, *(x for kv in options.items() for x in kv),
             "--project-dir", str(project)]
        )  # fmt: skip
    return code, [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("kind", list(TAKEN))
def test_it_refuses_a_name_taken_in_the_project(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = _small_copy(tmp_path / "project")
    make_taken, reason = TAKEN[kind]
    make_taken(project)
    before = _tree(project)
    code, errors = _refused(project, ["ads"], caplog)
    assert code == 2
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith("cannot create domain ads: 'ads' exists already: ")
    assert reason in errors[0]
    assert _tree(project) == before


@pytest.mark.parametrize("case", list(INVALID))
def test_it_refuses_an_invalid_name_team_or_owner(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = _small_copy(tmp_path / "project")
    args, reason = INVALID[case]
    before = _tree(project)
    code, errors = _refused(project, args, caplog)
    assert code == 2
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert reason in errors[0]
    assert _tree(project) == before


UNEXPECTED_LAYOUT: dict[str, tuple[Callable[[Path], None], str]] = {
    "dbt_project.yml without models:": (
        lambda r: (r / "dbt_project/dbt_project.yml").write_text("name: wdc\nprofile: wdc\n"),
        "dbt_project/dbt_project.yml has no top-level `models:` block",
    ),
    "workspace.yaml with a block after load_from:": (
        lambda r: _append(r / "workspace.yaml", "telemetry:\n  enabled: false\n"),
        "its `load_from:` list is not the last block of the file",
    ),
    "a gRPC workspace whose hosts follow no pattern": (
        lambda r: _write(
            r / "deploy/workspace.grpc.yaml",
            "load_from:\n"
            "  - grpc_server: {host: one.internal, port: 4000, location_name: sales}\n"
            "  - grpc_server: {host: two.internal, port: 4001, location_name: finance}\n",
        ),
        "cannot add the code server to deploy/workspace.grpc.yaml: its entries have no common host",
    ),
}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("case", list(UNEXPECTED_LAYOUT))
def test_it_refuses_a_project_file_it_cannot_add_the_domain_to(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = _small_copy(tmp_path / "project")
    change, reason = UNEXPECTED_LAYOUT[case]
    change(project)
    before = _tree(project)
    code, errors = _refused(project, ["ads"], caplog)
    assert code == 2
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert reason in errors[0]
    assert _tree(project) == before


def test_a_write_that_fails_half_way_is_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wdc_orchestration.scaffold.write import new_domain

    project = _small_copy(tmp_path / "project")
    before = _tree(project)
    write_text = Path.write_text

    def failing(path: Path, text: str, *args: Any, **kwargs: Any) -> int:
        if path.name == "workspace.yaml":  # the last file it writes
            raise OSError(28, "No space left on device")
        return write_text(path, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing)
    with pytest.raises(OSError, match="No space left"):
        new_domain("ads", "Time de Anúncios", "ads@wdc.example", project)
    monkeypatch.undo()
    assert _tree(project) == before


def test_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["new-domain", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: wdc new-domain [-h] --team TEAM --owner EMAIL")
    assert "Refuses a name that exists" in text


@pytest.fixture(autouse=True)
def _no_repository_writes() -> Iterator[None]:
    """Whatever a test here does, the repository's domains and project files stay as they were."""
    watched = [PROJECT_ROOT / "workspace.yaml", PROJECT_ROOT / "dbt_project/dbt_project.yml"]
    before = [p.read_bytes() for p in watched], sorted(os.listdir(PROJECT_ROOT / "domains"))
    yield
    assert ([p.read_bytes() for p in watched], sorted(os.listdir(PROJECT_ROOT / "domains"))) == (
        before
    )
