#!/usr/bin/env python3
"""Drive Wayfarer's MCP server with the official MCP Python SDK (`pip install mcp`, 2.x).

Usage:
    python mcp_client.py stdio WAYFARER_BINARY DATA_DIR   # spawns `WAYFARER_BINARY mcp --data DATA_DIR`
    python mcp_client.py http URL TOKEN                   # Streamable HTTP, `Authorization: Bearer TOKEN`

Connects, negotiates, lists the tools, calls `funnel`, `paths` and `retention` (and two
calls that must fail: a misspelled argument, an event that does not exist), and prints
one JSON object on stdout:
    {"protocol_version", "tools": [{"name", "description", "input_schema"}],
     "calls": {tool: parsed JSON of the text content}, "errors": {tool: error text}}
A call answered with isError (or with a JSON-RPC error) lands in "errors".
Exit 1 with a message on stderr when connecting fails, 2 on bad usage.

MCP_CLIENT_MODE (optional): "auto" (default: probe `server/discover`, i.e. protocol
2026-07-28, and fall back to the `initialize` handshake), "legacy" (always `initialize`),
or a modern version string such as "2026-07-28" (adopted without a probe).
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

# (label, tool, arguments); the last two must fail with a reason.
CALLS = [
    ("funnel", "funnel", {"step": ["Page Viewed", "Order Completed"]}),
    ("paths", "paths", {"top": 3}),
    ("retention", "retention", {"period": "week", "periods": 2}),
    ("typo", "funnel", {"stpe": ["Page Viewed", "Order Completed"]}),
    ("unknown_event", "paths", {"match": "Prodct Added -> Order Completed"}),
]


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


def parse(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


async def exercise(client: Client) -> dict:
    tools = []
    cursor = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools += [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in page.tools]
        cursor = page.next_cursor
        if not cursor:
            break
    calls, errors = {}, {}
    for name, tool, arguments in CALLS:
        try:
            result = await client.call_tool(tool, arguments)
        except MCPError as exc:  # a protocol-level error (unknown tool, invalid params, ...)
            errors[name] = f"JSON-RPC error {exc.error.code}: {exc.error.message}"
            continue
        if result.is_error:
            errors[name] = text_of(result)
        else:
            calls[name] = parse(text_of(result))
    return {"protocol_version": client.protocol_version, "tools": tools, "calls": calls, "errors": errors}


async def run(kind: str, first: str, second: str) -> dict:
    mode = os.environ.get("MCP_CLIENT_MODE", "auto")
    if kind == "stdio":
        # The SDK passes only a whitelisted environment by default; hand the child ours.
        params = StdioServerParameters(command=first, args=["mcp", "--data", second], env=dict(os.environ))
        return await connect_and_exercise(Client(params, mode=mode, read_timeout_seconds=120))
    headers = {"Authorization": f"Bearer {second}"}
    timeout = httpx2.Timeout(30.0, read=300.0)
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        transport = streamable_http_client(first, http_client=http)
        return await connect_and_exercise(Client(transport, mode=mode, read_timeout_seconds=120))


class ConnectError(Exception):
    pass


async def connect_and_exercise(client: Client) -> dict:
    try:
        await client.__aenter__()
    except BaseException as exc:  # noqa: BLE001 - OSError, HTTP errors, MCPError, ExceptionGroup
        raise ConnectError(describe(exc)) from exc
    try:
        return await exercise(client)
    finally:
        await client.__aexit__(None, None, None)


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in ("stdio", "http"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        report = asyncio.run(run(*sys.argv[1:4]))
    except ConnectError as exc:
        print(f"mcp_client: cannot connect: {exc}", file=sys.stderr)
        return 1
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
