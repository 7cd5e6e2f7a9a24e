"""vf-mcp: safe, fast, analytical read-only access to PostgreSQL for AI assistants, over MCP."""

__version__ = "0.1.0"
