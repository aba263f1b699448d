"""Waiting in end-to-end tests: one bounded poll, used by every test and helper.

    wait_for(pred, timeout, what)

calls pred() until it gives a true value and returns that value. When `timeout` seconds have
passed it raises WaitTimeout, an AssertionError whose message names what was awaited, how long,
and the last value pred gave. pred is called once more at the deadline, so a timeout of 0
checks once.

`until` tests the value instead of its truth, so that the message shows what was there (a
status, a list, an error text) rather than False:

    wait_for(lambda: describe(iid)["status"], 60, f"{iid} running", until=lambda s: s == "running")

`detail` (a string or a function giving one) is added to the message on a timeout: a log
tail, a guest's console. An exception raised by pred ends the wait at once, which is how a
daemon that exited or a domain that died fails fast. Where running out of time is not a
failure (a process given some seconds to exit before SIGKILL), catch WaitTimeout.

    wait_log_line(log, 'msg="agent ready"', 30, "the agent ready", proc=p, offset=n)

waits for a daemon's line in its log, failing at once when the daemon exits first.
"""

from __future__ import annotations

import time
from pathlib import Path

_LAST_MAX = 600  # characters of the last value kept in the message


class WaitTimeout(AssertionError):
    def __init__(self, what: str, timeout: float, last, detail: str = ""):
        self.what, self.timeout, self.last = what, timeout, last
        shown = repr(last)
        if len(shown) > _LAST_MAX:
            shown = shown[:_LAST_MAX] + f"... ({len(shown)} characters)"
        msg = f"timed out after {timeout:g} s waiting for {what} (last: {shown})"
        super().__init__(f"{msg}\n{detail}" if detail else msg)


def wait_for(pred, timeout: float, what: str, interval: float = 0.5, *, until=bool, detail=None):
    """Call pred() every `interval` seconds until until(value) holds; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        last = pred()
        if until(last):
            return last
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(what, timeout, last, (detail() if callable(detail) else detail) or "")
        time.sleep(min(interval, left))


def _exited(pid: int) -> bool:
    """Gone, or a zombie: a child of ours (libvirtd started through nsenter, which execs it)
    stays in /proc until it is reaped, long after it exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2:].startswith("Z")


def pid_exited(pid: int, timeout: float, name: str) -> bool:
    """Give process `pid` up to `timeout` seconds to exit (it was sent SIGTERM); say whether
    it did. Running out of time is the caller's to handle (SIGKILL), not a failure."""
    try:
        wait_for(lambda: _exited(pid), timeout, f"{name} {pid} to exit", 0.1)
        return True
    except WaitTimeout:
        return False


def log_tail(log: Path, n: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError as e:
        return f"({log}: {e})"


def wait_log_line(log: Path, marker: str, timeout: float, what: str, *, proc=None, offset: int = 0) -> str:
    """Wait for a line holding `marker` in the file `log`, past byte `offset` (a restarted
    daemon appends to its old log); return the line. When `proc` (a Popen) exits first, fail at
    once. Either failure shows the log's tail."""

    def line():
        try:
            text = log.read_bytes()[offset:].decode(errors="replace")
        except FileNotFoundError:
            text = ""
        for ln in text.splitlines():
            if marker in ln:
                return ln
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"waiting for {what}: the process exited {proc.returncode}\n{log_tail(log)}")
        return None

    return wait_for(line, timeout, what, 0.1, detail=lambda: log_tail(log))
