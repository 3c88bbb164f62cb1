"""Helpers for tests/ and bench/ only, not in the wheel: dagster dev, gRPC servers."""
