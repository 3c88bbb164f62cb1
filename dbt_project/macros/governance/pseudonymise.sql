{#- LGPD: a key that identifies a person leaves its domain only as a pseudonym, HMAC-SHA256 of the
    value with the platform's secret key (WDC_PSEUDONYMISATION_KEY), as 64 hex characters. The
    function is registered on dbt's connection by the profile's plugin
    (wdc_orchestration.dbt.duckdb_plugins.governance), so the key never appears in compiled SQL, the
    manifest or dbt's logs. Every domain uses the same key: pseudonymised keys still join. -#}
{% macro pseudonymise(column_name) -%}
    wdc_pseudonymise(cast({{ column_name }} as varchar))
{%- endmacro %}
