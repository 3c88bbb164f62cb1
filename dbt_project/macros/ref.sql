{#- Which version of a model a ref reads, under write-audit-publish (generate_schema_name.sql):
    - a model built in this invocation: its audit relation, the rows this run just wrote;
    - a table or incremental model NOT built in this invocation (another domain's product, or a
      product of this domain outside a subset run): its public relation, the last version that
      passed its checks, never an audit table a failed run left behind;
    - views and ephemeral models: as dbt resolves them (views live only in the audit schema and
      read the raw files the run was given).
    The dbt tests go through here too, so they test the audit relations of what was built and
    compare them with the published products of other domains. -#}
{% macro ref() %}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set name = varargs[-1] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.name == name
              and node.config.materialized in ('table', 'incremental')
              and node.unique_id not in selected_resources
              and node.config.schema is not none -%}
            {{ return(relation.incorporate(path={"schema": node.config.schema | trim})) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(relation) }}
{% endmacro %}
