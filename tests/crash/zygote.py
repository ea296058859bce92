"""A fork server for the kill tests: load the real model once, then run CLI commands in forked
children that the test SIGKILLs. Each child is a separate process (its own pid, its own database
connections) running `promptsearch.cli.main.main(argv)`; only the model load is shared, which
would otherwise cost several seconds per kill point.

Protocol (one JSON object per line): stdin {"argv": [...], "stderr": path} -> stdout
{"pid": N}, then {"pid": N, "code": C} when the child has ended (C = -9 when killed).
"""
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

# No OpenMP thread pool may exist before fork (a child would wait on threads it does not have);
# the children stay single-threaded as well.
torch.set_num_threads(1)

from promptsearch.cli import commands  # noqa: E402
from promptsearch.cli.main import main  # noqa: E402
from promptsearch.lm.loading import load_lm  # noqa: E402

LM = load_lm("smollm2", device="cpu")
commands._load_lm = lambda model, settings: LM  # the children use the loaded model


def _child(argv, stderr_path) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(err, 2)
    code = 1
    try:
        code = main(argv)
    except BaseException as e:  # a traceback is a test failure: leave it in the log
        import traceback
        traceback.print_exc()
        code = 99 if not isinstance(e, SystemExit) else (e.code or 0)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request["argv"], request["stderr"])
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"pid": pid, "code": code}), flush=True)


if __name__ == "__main__":
    serve()
