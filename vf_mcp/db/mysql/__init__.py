"""The MySQL/MariaDB engine: pool (read-only sessions, time limits, reset), guard, runner, catalog, statements.

See vf_mcp/db/engine.py for the interface it implements and docs/architecture.md for what it covers.
"""
