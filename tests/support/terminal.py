"""Run `ctstack` as a user runs it in a terminal: on a pseudo-terminal that is its controlling
terminal, so Ctrl-C typed there (byte 0x03) sends SIGINT to its foreground process group
(ctstack and its worker processes alike), and closing the terminal sends SIGHUP."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _take_terminal() -> None:  # in the child, after setsid: the pty becomes its controlling terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``ctstack ARGS`` on a pseudo-terminal; its output is read as it comes."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        primary, secondary = pty.openpty()
        env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO), **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "provision", *args], stdin=secondary, stdout=secondary,
                                     stderr=secondary, cwd=cwd, env=env, start_new_session=True, preexec_fn=_take_terminal)
        os.close(secondary)
        self.primary: int | None = primary
        self._output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self.primary is not None:
            try:
                chunk = os.read(self.primary, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self._output += chunk

    @property
    def text(self) -> str:
        """What the terminal showed so far, without colour and cursor codes."""
        with self._lock:
            return ANSI.sub("", self._output.decode("utf-8", "replace"))

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text)
            if found:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.2)  # the last output may still be on its way
                found = re.search(pattern, self.text)
                if found:
                    return found
                raise AssertionError(f"ctstack ended ({self.proc.returncode}) without printing {pattern!r}:\n{self.text}")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.text}")

    def press_ctrl_c(self) -> None:
        os.write(self.primary, b"\x03")

    def close(self) -> None:
        """Close the terminal, as closing its window does: the kernel sends SIGHUP."""
        if self.primary is not None:
            primary, self.primary = self.primary, None
            os.close(primary)

    def finish(self, timeout: float = 120) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self._reader.join(timeout=5)
        return code
