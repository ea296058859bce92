"""Who runs a trial, and whether that process still exists.

Each trial records its owner (machine, process id, process start time) when it is claimed
(ps_trial_owners, see owners.py). A trial left RUNNING whose owner ran on *this* machine is stale
exactly when that process is gone: checked at once, no waiting. For an owner on another machine
we cannot look, and rely on its heartbeat instead.

"This machine" means "the same process-id namespace": a boot id plus the pid namespace, so two
containers or two hosts that share a hostname are never confused (a wrong "dead" verdict would
fail a trial that is still running).
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading
from functools import lru_cache
from typing import Any

HOST_ENV = "PROMPTSEARCH_MACHINE_ID"  # override the machine id (tests simulate other machines)


@lru_cache(maxsize=1)
def _machine_id() -> str:
    parts = []
    for path in ("/proc/sys/kernel/random/boot_id", "/etc/machine-id"):
        try:
            with open(path, encoding="ascii") as f:
                parts.append(f.read().strip())
            break
        except OSError:
            continue
    with contextlib.suppress(OSError):
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    return ":".join(parts) or f"host:{socket.gethostname()}"


def machine_id() -> str:
    return os.environ.get(HOST_ENV) or _machine_id()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])  # field 22 of the full line
    except (IndexError, ValueError):
        return None


def me() -> dict[str, Any]:
    """This thread of this process: {"host", "machine", "pid", "start", "thread"}."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "machine": machine_id(), "pid": pid, "start": start_time(pid),
            "thread": threading.get_ident()}


def process_gone(owner: Any) -> bool | None:
    """True: the owner is certainly gone. False: it runs. None: cannot tell (no owner recorded,
    or it runs on another machine).

    Within this process, the owner is a thread: gone when it has ended, and when it is the
    caller itself, which never has a trial in flight while it looks for stale ones."""
    if not isinstance(owner, dict) or owner.get("machine") != machine_id():
        return None
    pid = owner.get("pid")
    if pid == os.getpid():
        thread = owner.get("thread")
        return thread == threading.get_ident() or all(t.ident != thread for t in threading.enumerate())
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by another user
    recorded, now = owner.get("start"), start_time(pid)
    if recorded is not None and now is not None and recorded != now:
        return True  # the pid was reused by a newer process
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still has a pid; it runs no trial."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].startswith("Z")
