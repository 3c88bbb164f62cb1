{#- Versioned products (dbt model versions, one per major of the contract): the latest version
    keeps the product's name, `<domain>.<product>`, the stable SQL port that follows the latest
    major; an older version still served through its deprecation window is `<product>_v<major>`
    (dbt's own default for every version). The platform adds the view `<product>_v<latest>` on
    the stable table (lakehouse/wap.py), so each major has its own name too. -#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- elif node.version is not none and node.version | string != node.latest_version | string -%}
        {{ node.name }}_v{{ node.version | replace(".", "_") }}
    {%- else -%}
        {{ node.name }}
    {%- endif -%}
{%- endmacro %}
