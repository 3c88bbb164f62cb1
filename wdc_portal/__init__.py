"""The data-product portal: a Taipy web app where consumers find, trust and use the mesh's
products (marketplace, product pages, column lineage, KPIs, monitoring, access requests).
`uv run wdc portal` serves it; docs/portal.md describes it."""

# Where the portal finds the Dagster UI unless told (`wdc portal --dagster-url`). Here, not in
# context.py: the `wdc` command line names it as a default, and context.py loads dagster and pandas.
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
