"""sqlfluff with the dbt templater (.sqlfluff) on a throw-away lake under .wdc/sqlfluff/:
`uv run python .ci/lint_sql.py lint dbt_project/models` (pre-commit runs it on the staged models).

Why a wrapper: to render a model, the dbt templater opens dbt's DuckDB from the profile, which
attaches the DuckLake catalog that `WDC_DUCKLAKE_CATALOG` names (`is_incremental()` asks it what
exists). Without the platform's settings the profile's defaults are relative to dbt_project/
and, from the repository root, point outside it; with the developer's own settings they would
point at their lake, or an S3 bucket. Here the settings are a lake of its own (the tests' and
benchmarks' `isolated_lake_env`), handed to dbt as the platform hands them (`export_dbt_env`,
which also installs the DuckDB extensions from their PyPI packages). Nothing is materialised."""

from __future__ import annotations

import os
import sys

from wdc_orchestration.settings import PROJECT_ROOT, isolated_lake_env

LINT_LAKE = PROJECT_ROOT / ".wdc" / "sqlfluff"


def main() -> None:
    os.environ.update(isolated_lake_env(LINT_LAKE))
    from wdc_orchestration.dbt.project import export_dbt_env
    from wdc_orchestration.settings import get_settings

    export_dbt_env(get_settings())
    from sqlfluff.cli.commands import cli

    sys.exit(cli())


if __name__ == "__main__":
    main()
