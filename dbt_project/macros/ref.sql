{#- Which version of a model a ref reads, under write-audit-publish (generate_schema_name.sql):
    - a model built in this invocation: its audit relation, the rows this run just wrote;
    - a table or incremental model NOT built in this invocation (another domain's product, or a
      product of this domain outside a subset run): its public relation, the last version that
      passed its checks, never an audit table a failed run left behind;
    - views and ephemeral models: as dbt resolves them (views live only in the audit schema and
      read the raw files the run was given).
    The dbt tests go through here too, so they test the audit relations of what was built and
    compare them with the published products of other domains.
    A versioned product (dbt model versions: one version per major of its contract) is read at
    the version the ref names, `ref('fct_orders', v=1)` (or `version=1`), else at its
    latest_version, as dbt resolves it. -#}
{% macro ref() %}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set name = varargs[-1] -%}
    {%- set version = kwargs.get('v', kwargs.get('version')) -%}
    {%- for node in graph.nodes.values() -%}
        {%- set wanted = node.latest_version if version is none else version -%}
        {%- if node.resource_type == 'model' and node.name == name
              and (node.version is none or node.version | string == wanted | string)
              and node.config.materialized in ('table', 'incremental')
              and node.unique_id not in selected_resources
              and node.config.schema is not none -%}
            {{ return(relation.incorporate(path={"schema": node.config.schema | trim})) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(relation) }}
{% endmacro %}
