"""The mesh: domain spec and factory, resources, partitions, the workspace, runs."""
