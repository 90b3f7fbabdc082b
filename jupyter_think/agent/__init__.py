"""Agents: the sequentialthinking tool, SDK adapters and the MCP stdio server."""
