"""``portfolio mcp``: the Model Context Protocol server for AI agents.

Over standard input/output by default (the client starts ``portfolio mcp`` as a subprocess);
``--http`` serves streamable HTTP on 127.0.0.1 instead. The tools are listed in
:mod:`orchestration.mcp.server`.
"""

from __future__ import annotations

import argparse

from orchestration.settings import Settings

DEFAULT_HTTP_PORT = 8765


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port {text!r} is not a whole number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"--port {value} must be in 1..65535")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``portfolio mcp`` to the parser."""
    parser = subparsers.add_parser(
        "mcp",
        help="serve the tools to an AI agent (Model Context Protocol, stdio)",
        description="Model Context Protocol server over stdio (for Claude Desktop and other "
        "MCP clients), or streamable HTTP on 127.0.0.1 with --http.",
    )
    parser.add_argument(
        "--http", action="store_true", help="serve streamable HTTP on 127.0.0.1 instead of stdio"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_HTTP_PORT, help="HTTP port (with --http)"
    )
    parser.set_defaults(handler=mcp_command)


def mcp_command(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until the client disconnects (stdio) or the process is interrupted (HTTP)."""
    from orchestration.mcp import server as mcp_server

    server = mcp_server.build_server(settings)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run("stdio")
    return 0
