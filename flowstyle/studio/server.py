"""Run the studio with uvicorn on a free port and say where (``flowstyle studio`` / ``flowstyle preview``)."""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Callable
from urllib.parse import quote

import uvicorn

from .app import LOOPBACK, StudioOptions, check_bind, create_app


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def with_token(options: StudioOptions) -> StudioOptions:
    """A random token when serving beyond this machine without one."""
    if options.host not in LOOPBACK and not options.token:
        import dataclasses

        return dataclasses.replace(options, token=secrets.token_urlsafe(24))
    return options


def address(options: StudioOptions, port: int, path: str = "/") -> str:
    host = f"[{options.host}]" if ":" in options.host else options.host
    query = f"?token={quote(options.token)}" if options.token else ""
    return f"http://{host}:{port}{path}{query}"


class StudioServer:
    """uvicorn in a thread of its own (tests, benchmarks); ``with StudioServer(opts) as s: s.url``."""

    def __init__(self, options: StudioOptions = StudioOptions(), port: int = 0) -> None:
        check_bind(options.host, options.token)
        self.options = options
        self.port = port or free_port(options.host)
        self.app = create_app(options)
        config = uvicorn.Config(self.app, host=options.host, port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="studio-server", daemon=True)

    @property
    def url(self) -> str:
        return address(self.options, self.port)

    def __enter__(self) -> StudioServer:
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the studio server did not start")
            threading.Event().wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=20)


def serve(options: StudioOptions, port: int = 0, announce: Callable[[str], None] = print, path: str = "/") -> None:
    """Serve until interrupted; ``announce`` gets the address to open (with the token)."""
    options = with_token(options)
    check_bind(options.host, options.token)
    port = port or free_port(options.host)
    app = create_app(options)
    announce(address(options, port, path))
    uvicorn.run(app, host=options.host, port=port, log_level="warning")
