{#- Write-audit-publish. dbt builds each domain into its AUDIT schema, `<domain>__audit`: the
    staging views, and the run's window of every table and incremental model, where the dbt tests
    and the platform's blocking checks read them. Only after they all passed does the platform
    publish the window into the domain's PUBLIC schema (`<domain>`, the SQL port consumers and
    other domains read) in one DuckLake transaction (wdc_orchestration/lakehouse/wap.py). A failed
    run leaves the public tables exactly as they were; its audit tables stay for inspection.

    Not dbt's default either way: that would prefix the target schema (`main_sales`), making the
    products' addresses depend on the target. Models without a custom schema fall back to the
    target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ audit_suffix() }}
    {%- endif -%}
{%- endmacro %}

{#- The suffix of the audit schemas (the platform reads it from here: a schema ending in it is
    never a port). -#}
{% macro audit_suffix() -%}__audit{%- endmacro %}
