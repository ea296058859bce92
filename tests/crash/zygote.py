"""A fork server for the tests that kill or run many search processes: it loads the real model
once, then runs CLI commands in forked children. Each child is a separate process (its own pid,
its own database connections) running `promptsearch.cli.main.main(argv)`; only the loaded model
is shared, which would otherwise cost seconds per process.

Protocol, one JSON object per line. stdin: {"argv": [...], "stderr": path, "env": {...}};
stdout: {"pid": N} at once, and {"exit": N, "code": C} when that child has ended (C = -9 when
killed). `Zygote` below is the test side.
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def serve() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    # No OpenMP thread pool may exist before fork (a child would wait on threads it does not
    # have); the children stay single-threaded too, several of them share the cores.
    torch.set_num_threads(1)
    from promptsearch.lm import load_lm
    from promptsearch.service import models

    lm = load_lm("smollm2", device="cpu")
    models.load_model = lambda spec=None, **kw: lm  # the children use the loaded model
    out = threading.Lock()

    def say(obj: dict) -> None:
        with out:
            print(json.dumps(obj), flush=True)

    def reap() -> None:
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                time.sleep(0.01)
                continue
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            say({"exit": pid, "code": code})

    threading.Thread(target=reap, daemon=True).start()
    say({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        say({"pid": pid})


def _child(request: dict) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for fd, target in ((0, devnull), (1, devnull), (2, err)):
        os.dup2(target, fd)
    # new stream objects: the reaper thread may have held the old ones' locks at the fork
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    os.environ.update(request.get("env", {}))
    code = 1
    try:
        from promptsearch.cli.main import main
        code = main(request["argv"])
    except BaseException:  # a traceback is a test failure: leave it in the log
        import traceback
        traceback.print_exc()
        code = 99
    finally:
        sys.stderr.flush()
        os._exit(code)


class Zygote:
    """The test side: start commands, kill them, wait for their exit codes."""

    _shared: Zygote | None = None

    @classmethod
    def shared(cls) -> Zygote:
        """One per test session: the model is loaded once for every test that uses it."""
        if cls._shared is None or cls._shared.proc.poll() is not None:
            cls._shared = cls()
            atexit.register(cls._shared.close)
        return cls._shared

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__], cwd=ROOT, text=True,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)},
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.started: queue.Queue[int] = queue.Queue()
        self.codes: dict[int, int] = {}
        self.cond = threading.Condition()
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(600), "the zygote did not start"
        self.lock = threading.Lock()

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            if msg.get("ready"):
                self.ready.set()
            elif "exit" in msg:
                with self.cond:
                    self.codes[msg["exit"]] = msg["code"]
                    self.cond.notify_all()
            else:
                self.started.put(msg["pid"])

    def start(self, argv: list[str], stderr: Path, env: dict | None = None) -> int:
        with self.lock:
            self.proc.stdin.write(json.dumps({"argv": argv, "stderr": str(stderr), "env": env or {}}) + "\n")
            self.proc.stdin.flush()
            return self.started.get(timeout=60)

    def wait(self, pid: int, timeout: float = 600) -> int:
        with self.cond:
            assert self.cond.wait_for(lambda: pid in self.codes, timeout), f"process {pid} did not end"
            return self.codes[pid]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


if __name__ == "__main__":
    serve()
