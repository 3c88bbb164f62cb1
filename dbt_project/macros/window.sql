{#- The run window: the inclusive partition dates a run reads and replaces.

    The orchestrator sets it per invocation as DuckDB session variables (`wdc_min_date`,
    `wdc_max_date`, set on every dbt cursor by wdc_orchestration/dbt/duckdb_plugins/session.py from
    the WDC_RUN_MIN_DATE / WDC_RUN_MAX_DATE environment variables). It is deliberately NOT a dbt
    var:
    `--vars` changes dbt's parse state and forces a full re-parse on every invocation, while a
    session variable leaves the SQL text (and the partial-parse state) identical from day to day.
    DuckDB folds getvariable() to a constant when planning, so hive-partition pruning still reads
    only the window's `date=` folders.

    Without the variables (a plain `dbt build`), the window falls back to the dbt vars min_date /
    max_date, whose defaults in dbt_project.yml mean "everything"; `--vars` still works by hand. -#}
{% macro run_window_start() -%}
    coalesce(getvariable('wdc_min_date'), date '{{ var("min_date") }}')
{%- endmacro %}

{% macro run_window_end() -%}
    coalesce(getvariable('wdc_max_date'), date '{{ var("max_date") }}')
{%- endmacro %}

{#- The run window as a predicate on a partition-date column. Every model that grows daily
    filters its staging input with it, so a nightly run reads only its day's hive folders and
    delete+insert replaces exactly that day. -#}
{% macro in_run_window(column_name) -%}
    {{ column_name }} between {{ run_window_start() }} and {{ run_window_end() }}
{%- endmacro %}
