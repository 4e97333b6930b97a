"""A TCP proxy for tests that injects faults between a client (redis-py) and a real server.

Faults are armed on a byte pattern of the client-to-server stream, matched case-insensitively
(also across chunk boundaries), and act on the chunk that completes the pattern. "The reply" is
the next data the server sends after that chunk: Redis answers what it read in one go with one
write, and redis-py sends a whole pipeline (MULTI ... EXEC) in one write.

    async with FaultProxy("127.0.0.1", 6379) as proxy:
        fault = proxy.arm(Fault(command("EXEC"), Action.DROP_REPLY_AND_RESET))
        client = Redis.from_url(proxy.url, retry=Retry(NoBackoff(), 0))
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

_T = TypeVar("_T")
_CHUNK = 65536


class Action(enum.Enum):
    DROP_REPLY_AND_RESET = enum.auto()
    """Forward the request, discard the server's reply, then reset the client connection."""
    DROP_REPLY_AND_STALL = enum.auto()
    """Forward the request, then send the client nothing more until `release()` or close."""
    RESET_BEFORE_FORWARD = enum.auto()
    """Reset the client connection; the request never reaches the server."""
    DELAY_REPLY = enum.auto()
    """Forward the request and deliver the reply `seconds` after it arrives."""


@dataclass(eq=False)
class Fault:
    pattern: bytes
    action: Action
    seconds: float = 0.0
    times: int = 1
    fired: int = 0

    def __post_init__(self) -> None:
        if not self.pattern or self.times < 1:
            raise ValueError("a fault needs a non-empty pattern and times >= 1")
        if (self.action is Action.DELAY_REPLY) != (self.seconds > 0):
            raise ValueError("seconds > 0 goes with DELAY_REPLY, and only with it")

    @property
    def armed(self) -> bool:
        return self.fired < self.times


def command(name: str) -> bytes:
    """The RESP bulk string of a command name, e.g. b"$4\\r\\nEXEC\\r\\n" for "EXEC"."""
    encoded = name.encode()
    return b"$%d\r\n%s\r\n" % (len(encoded), encoded)


class _Connection:
    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.client_reader, self.client = client
        self.upstream_reader, self.upstream = upstream
        self.tail = b""
        self.pending: Fault | None = None
        self.stalled = False

    def close(self) -> None:
        self.client.close()
        self.upstream.close()

    def reset(self) -> None:
        # SO_LINGER 0 turns close into a RST, as when a peer or a middlebox drops the connection.
        sock = self.client.get_extra_info("socket")
        if sock is not None and not self.client.is_closing():
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client.transport.abort()
        self.upstream.transport.abort()


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._faults: list[Fault] = []
        self._open: set[_Connection] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.connections = 0
        """Client connections accepted so far."""
        self.partitioned = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is None:
            return
        # Handlers end on the resets: cancelling them makes Python 3.11's asyncio log errors.
        self._closing = True
        self._server.close()
        self.reset_all()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        self._closing = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def arm(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def partition(self) -> None:
        """From now on nothing passes either way: open connections go silent, and new ones are
        accepted but never reach the server (a black hole, as a cut network looks)."""
        self.partitioned = True

    def heal(self) -> None:
        """Traffic passes again; the connections silenced meanwhile are reset."""
        self.partitioned = False
        self.reset_all()

    def release(self) -> None:
        """Reset the connections held silent by DROP_REPLY_AND_STALL."""
        for connection in [c for c in self._open if c.stalled]:
            connection.reset()

    def reset_all(self) -> None:
        for connection in list(self._open):
            connection.reset()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.partitioned:  # swallow whatever comes, answer nothing
            with contextlib.suppress(OSError):
                while await reader.read(_CHUNK) and self.partitioned:
                    pass
            writer.transport.abort()
            return
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        try:
            upstream = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        connection = _Connection((reader, writer), upstream)
        self._open.add(connection)
        if self._closing:
            connection.reset()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._requests(connection))
                group.create_task(self._replies(connection))
        finally:
            connection.close()
            self._open.discard(connection)

    def _match(self, connection: _Connection, data: bytes) -> Fault | None:
        armed = [fault for fault in self._faults if fault.armed]
        if not armed:
            connection.tail = b""
            return None
        window = (connection.tail + data).lower()
        keep = max(len(fault.pattern) for fault in armed) - 1
        connection.tail = window[len(window) - keep :] if keep else b""
        for fault in armed:
            # Only matches that end in the new data: one wholly in the tail has been seen.
            start = max(0, len(window) - len(data) - len(fault.pattern) + 1)
            if window.find(fault.pattern.lower(), start) >= 0:
                fault.fired += 1
                return fault
        return None

    async def _requests(self, connection: _Connection) -> None:
        try:
            while data := await connection.client_reader.read(_CHUNK):
                if self.partitioned:
                    continue
                fault = self._match(connection, data)
                if fault is not None and fault.action is Action.RESET_BEFORE_FORWARD:
                    connection.reset()
                    return
                if fault is not None:
                    connection.pending = fault
                connection.upstream.write(data)
                await connection.upstream.drain()
        except OSError:
            pass
        finally:
            connection.close()

    async def _replies(self, connection: _Connection) -> None:
        try:
            while data := await connection.upstream_reader.read(_CHUNK):
                if self.partitioned:
                    continue
                fault, connection.pending = connection.pending, None
                action = fault.action if fault is not None else None
                if action is Action.DROP_REPLY_AND_RESET:
                    connection.reset()
                    return
                if action is Action.DROP_REPLY_AND_STALL:
                    connection.stalled = True
                if connection.stalled:
                    continue
                if fault is not None and action is Action.DELAY_REPLY:
                    await asyncio.sleep(fault.seconds)
                    if connection.client.is_closing():
                        return
                connection.client.write(data)
                await connection.client.drain()
        except OSError:
            pass
        finally:
            connection.close()


class ThreadedFaultProxy:
    """A FaultProxy on its own event loop in a background thread, for sync or subprocess tests."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._proxy = FaultProxy(upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        self._run(self._proxy.start())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._run(self._proxy.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _arm(self, fault: Fault) -> Fault:
        return self._proxy.arm(fault)

    async def _release(self) -> None:
        self._proxy.release()

    async def _reset_all(self) -> None:
        self._proxy.reset_all()

    @property
    def port(self) -> int:
        return self._proxy.port

    @property
    def url(self) -> str:
        return self._proxy.url

    @property
    def connections(self) -> int:
        return self._proxy.connections

    def arm(self, fault: Fault) -> Fault:
        return self._run(self._arm(fault))

    def release(self) -> None:
        self._run(self._release())

    def reset_all(self) -> None:
        self._run(self._reset_all())
