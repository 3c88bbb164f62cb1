"""The data-product portal: a Taipy web app where consumers find, trust and use the mesh's
products (marketplace, product pages, column lineage, KPIs, monitoring, access requests).
`uv run wdc portal` serves it; docs/portal.md describes it."""
