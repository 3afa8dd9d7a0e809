"""A Docker engine that can be "stopped" mid-command: a Unix-socket proxy of our own in front
of the real engine's socket. Pointing DOCKER_HOST at it lets a test cut the engine off from
ctstack (and Compose) at a chosen moment without stopping the engine other tests share."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path


def real_engine_socket() -> Path:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise RuntimeError(f"the engine proxy forwards to a Unix socket; DOCKER_HOST is {host}")
    return Path(host.removeprefix("unix://"))


class EngineProxy:
    def __init__(self, path: Path, target: Path | None = None) -> None:
        self.path, self.target = path, target or real_engine_socket()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(64)
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True, name="engine-proxy").start()

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(str(self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._stopped:
                    client.close(), upstream.close()
                    return
                self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        """The engine is gone for whoever used this socket: refused from now on, open calls cut."""
        with self._lock:
            self._stopped = True
            self._listener.close()
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        self.path.unlink(missing_ok=True)
