"""A stand-in for the network between a worker and its database (not a database itself): a TCP proxy on
localhost that passes bytes both ways until told to fail.

- `down()`: the database "goes away": every open connection is cut and new ones are refused, until `up()`.
- `lose_next_answer()`: the next request any client sends is delivered, and the connection is cut as
  soon as the server starts answering it: the server did the work, the client never hears of it.

Used by the outage tests and benchmarks/chaos_bench.py to break connections the way a network or a
restarting server does, at moments a test chooses.
"""
from __future__ import annotations

import socket
import threading
from typing import Optional


class FlakyProxy:
    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._armed = False
        self._listener: Optional[socket.socket] = None
        self.port = 0
        self.cuts = 0
        self.up()

    # ---- control ----------------------------------------------------------------------------------
    def up(self) -> None:
        """Accept connections (again, on the same port)."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(256)
            self.port = listener.getsockname()[1]
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Cut every connection and refuse new ones."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        self.cut_all()

    def cut_all(self) -> None:
        """Cut every open connection; new ones are accepted."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _close(client)
            _close(server)
        self.cuts += len(pairs)

    def lose_next_answer(self) -> None:
        with self._lock:
            self._armed = True

    def close(self) -> None:
        self.down()

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    # ---- plumbing ---------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: down()
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(server)
                    return
                self._pairs.append((client, server))
            pending = {"cut_on_answer": False}
            threading.Thread(target=self._pump, args=(client, server, pending, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, pending, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, pending: dict, to_server: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if data and to_server:
                with self._lock:
                    if self._armed:
                        self._armed = False
                        pending["cut_on_answer"] = True
            elif data and pending["cut_on_answer"]:
                data = b""  # the answer is lost: cut instead of delivering it
                self.cuts += 1
            if not data:
                _close(source)
                _close(target)
                with self._lock:
                    self._pairs = [p for p in self._pairs if source not in p]
                return
            try:
                target.sendall(data)
            except OSError:
                _close(source)
                _close(target)
                return


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
