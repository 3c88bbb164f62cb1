"""Shared machinery for the domains' source-system simulators:
deterministic requests and chunked writers."""
