"""The Model Context Protocol server (``portfolio mcp``): tools for an AI agent.

Every tool is a thin adapter over the services the command line uses (the basket store, the
execution engine, the strategy and performance stores), so an agent and a person see and change
the same state, and writes made by an agent trigger the same Dagster sensors. ``server`` builds
the server; ``approvals`` stores an agent's requests that a person approve a previewed trade.
"""
