"""Ctrl-C (SIGINT), a closed terminal (SIGHUP) and SIGTERM, the same way in every command.

The first signal asks the command to stop and say what it did: a command that can stop
cleanly (an import, ``reflag``) runs its loops under :func:`graceful` and checks
:func:`requested` between files or pages, finishing what is in flight; anywhere else the
signal raises :class:`Interrupted` in the main thread and the CLI says what was left undone.
The exit code is 128 + the signal's number (130 for Ctrl-C), as a shell reports it.

A second signal stops the process at once (:func:`hard_exit`): the clean-ups registered with
:func:`on_hard_exit` run first (a dead-letter file keeps what it holds and is removed when it
holds nothing), then the process exits with the same code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

# SIGHUP: the terminal was closed; its default would end the process before any clean-up.
SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))
T = TypeVar("T")


class Interrupted(KeyboardInterrupt):
    """A signal stopped the command; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_words(signum))
        self.signum = signum


def signal_words(signum: int | None) -> str:
    """How a person names the signal: "Ctrl-C (SIGINT)", "SIGTERM", "SIGHUP (the terminal closed)"."""
    if signum is None:
        return "a signal"
    if signum == signal.SIGINT:
        return "Ctrl-C (SIGINT)"
    if signum == getattr(signal, "SIGHUP", None):
        return "SIGHUP (the terminal closed)"
    return signal.Signals(signum).name


def exit_code(signum: int) -> int:
    return 128 + signum


class _State:
    """The process's signal state: signals are process-wide, so is this."""

    def __init__(self) -> None:
        self.installed = False
        self.graceful_depth = 0          # > 0: the first signal only sets ``received``
        self.received: int | None = None
        self.notice: str | None = None   # said on stderr when a graceful stop starts
        self.cleanups: dict[int, Callable[[], None]] = {}


_state = _State()


def received() -> int | None:
    """The signal that asked this process to stop, if one did."""
    return _state.received


def requested() -> bool:
    """Whether a signal asked the command to stop (check between units of work)."""
    return _state.received is not None


def _handle(signum: int, _frame: Any) -> None:
    if _state.received is not None:
        hard_exit(signum)
    _state.received = signum
    if _state.graceful_depth:
        if _state.notice:
            _say(f"\n{signal_words(signum)}: {_state.notice} (again to stop at once)\n")
        return
    raise Interrupted(signum)


def _say(text: str) -> None:
    try:
        os.write(2, text.encode())
    except OSError:  # no terminal any more (SIGHUP)
        pass


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Install the handlers for the duration of a command (main thread only; elsewhere,
    and when already installed, this does nothing)."""
    if _state.installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handle) for s in SIGNALS}
    _state.installed, _state.received = True, None
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _state.installed = False


@contextlib.contextmanager
def graceful(notice: str = "stopping after the work in flight") -> Iterator[None]:
    """Inside the block the first signal only sets :func:`requested`: the code checks it
    and stops cleanly. A signal received before the block raises at its start."""
    if _state.received is not None and _state.installed and not _state.graceful_depth:
        raise Interrupted(_state.received)
    _state.graceful_depth += 1
    outer_notice, _state.notice = _state.notice, notice
    try:
        yield
    finally:
        _state.graceful_depth -= 1
        _state.notice = outer_notice


class UntilRequested(Generic[T]):
    """``items`` until a stop is asked for: what was handed out is finished, the rest is not
    taken; ``cut`` says whether the stop left some behind."""

    def __init__(self, items: Iterable[T]) -> None:
        self.items = items
        self.cut = False

    def __iter__(self) -> Iterator[T]:
        for item in self.items:
            if _state.received is not None:
                self.cut = True
                close = getattr(self.items, "close", None)
                if close is not None:  # a generator's clean-up (a point in time, a download) runs now
                    close()
                return
            yield item


def on_hard_exit(key: object, cleanup: Callable[[], None] | None) -> None:
    """Register (or, with None, forget) what must run if a second signal ends the process."""
    if cleanup is None:
        _state.cleanups.pop(id(key), None)
    else:
        _state.cleanups[id(key)] = cleanup


def hard_exit(signum: int) -> None:
    """End the process now with 128 + ``signum``, after the registered clean-ups."""
    for cleanup in list(_state.cleanups.values()):
        try:
            cleanup()
        except BaseException:  # the process is ending: one failed clean-up must not stop the others
            pass
    _say(f"\n{signal_words(signum)} again: stopped at once.\n")
    os._exit(exit_code(signum))
