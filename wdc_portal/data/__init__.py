"""The portal's data layer: plain functions over the lake, the products-only reader and the
Dagster instance, returning rows the pages show (and tests check) — no Taipy here."""
