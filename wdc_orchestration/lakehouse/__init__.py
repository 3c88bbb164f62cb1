"""DuckDB and DuckLake: connections, extensions, run window, WAP, locks, faults."""
