{#- A domain's models live in a schema named after the domain (`+schema: sales` -> `sales`),
    verbatim: dbt's default would prefix the target schema (`main_sales`), which would make the
    data products' addresses depend on the target. Models without a custom schema fall back to
    the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
