"""The `node` program: CLI, configuration, keys, roles and the local job store."""

__version__ = "0.1.0"
