"""A small MCP server for Keel's tests, written with the official `mcp` package from PyPI.

    python keel_test_mcp_server.py stdio          # speaks MCP on stdin/stdout
    python keel_test_mcp_server.py http           # streamable HTTP on 127.0.0.1, a free port

Over HTTP it prints `listening on http://127.0.0.1:PORT/mcp` once it accepts connections.
Each call of `transfer` appends a line to the file named by $KEEL_MCP_LEDGER, so that a test
can count the calls that really happened.
"""

import os
import socket
import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("keel-test-server")


@server.tool()
def add(a: int, b: int) -> str:
    """Adds two whole numbers."""
    return str(a + b)


@server.tool()
def shout(text: str) -> str:
    """Returns the text in capitals."""
    return text.upper()


@server.tool()
def transfer(account: str, amount: float) -> str:
    """Moves money to an account. Every call is recorded."""
    ledger = os.environ.get("KEEL_MCP_LEDGER")
    if ledger:
        with open(ledger, "a", encoding="utf-8") as handle:
            handle.write(f"{account} {amount}\n")
    return f"transferred {amount:.2f} to {account}"


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ValueError(reason)


def serve_http() -> None:
    import anyio
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    http = uvicorn.Server(config)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(http.serve, [sock])
            while not http.started:
                await anyio.sleep(0.01)
            print(f"listening on http://127.0.0.1:{port}/mcp", flush=True)

    anyio.run(main)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "http":
        serve_http()
    else:
        server.run("stdio")
