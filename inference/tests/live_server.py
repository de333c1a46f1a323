"""Serve an ASGI app for real, over TCP, from a background thread: for tests and their fixtures.

The app runs under uvicorn exactly as in production, so clients (the openai package, httpx,
the arena) talk to it over a socket. Binding port 0 first and handing uvicorn the socket avoids
racing another process for a "free" port.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

_START_TIMEOUT_SECONDS = 10.0


@contextmanager
def asgi_served(app: ASGIApp) -> Iterator[str]:
    """Run `app` on a free port of 127.0.0.1 while the block runs; yield its base URL (no trailing slash)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Handlers still sleeping or streaming at the end get a second to finish, then are cut off.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"asgi-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"The test server on port {port} did not start.")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT_SECONDS)
        sock.close()
