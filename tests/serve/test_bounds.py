"""`promptsearch serve` bounds every request (issue 25, class 4), on a real `serve` process with
the embedded model: max_tokens and the prompt by the context, a wall time per request, work
stopped when the client leaves, and other requests answered while a long one runs."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"  # greedy SmolLM2 keeps counting: a generation that runs long


def _post(url: str, body: dict, timeout: float = 120):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def serve():
    """A `promptsearch serve` process on a free port with a 20 s limit per request."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
    proc = subprocess.Popen([sys.executable, "-m", "promptsearch", "serve", "--port", "0", "--device", "cpu",
                             "--request-timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert match, f"serve did not start: {line} {proc.stderr.read() if proc.poll() is not None else ''}"  # type: ignore[union-attr]
        yield proc, match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _idle(pid: int, seconds: float = 3.0) -> float:
    """CPU seconds the process used over `seconds` of wall time."""
    before = _cpu_seconds(pid)
    time.sleep(seconds)
    return _cpu_seconds(pid) - before


@pytest.mark.parametrize("body,fragment", [
    ({"prompt": "Hi", "max_tokens": 100_000_000}, "'max_tokens' 100000000 plus the prompt's"),
    ({"prompt": "Hi", "max_tokens": 10**40}, "is over the model's context of"),
    ({"prompt": "word " * 9000, "max_tokens": 5}, "the prompt is"),
    ({"prompt": "word " * 9000}, "the prompt is"),  # the server's default max_tokens is shortened, not the prompt
    ({"prompt": ["short", "word " * 9000], "echo": True, "max_tokens": 0, "logprobs": 1},
     "prompt 1 is"),
])
def test_over_the_context_is_a_400_at_once(serve, body, fragment):
    _, url = serve
    start = time.monotonic()
    code, payload = _post(url + "/completions", body)
    assert code == 400 and fragment in payload["error"]["message"], payload
    assert "context" in payload["error"]["message"]
    assert time.monotonic() - start < 30


def test_the_default_max_tokens_is_shortened_to_the_room_left():
    """(A full-context prefill takes minutes on a shared CPU: the rule itself, on numbers.)"""
    from promptsearch.serve.server import RequestError, _room

    assert _room(8000, None, 256, 8192) == 192  # the server's default: shortened
    assert _room(10, None, 256, 8192) == 256
    assert _room(8000, 192, 256, 8192) == 192  # asked, and it fits
    with pytest.raises(RequestError, match="ask for at most 192"):
        _room(8000, 193, 256, 8192)
    with pytest.raises(RequestError, match="the prompt is 8192 tokens"):
        _room(8192, None, 256, 8192)


def test_a_client_that_leaves_stops_its_work_and_others_are_answered(serve):
    proc, url = serve
    quick_done: list[float] = []

    def quick() -> None:
        t0 = time.monotonic()
        code, payload = _post(url + "/completions", {"prompt": "The capital of France is", "max_tokens": 3,
                                                     "temperature": 0})
        assert code == 200 and payload["choices"][0]["text"]
        quick_done.append(time.monotonic() - t0)

    # the long request's client gives up after 3 s; meanwhile a short request is answered
    def give_up() -> None:
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            _post(url + "/completions", {"prompt": COUNTING, "max_tokens": 8000, "temperature": 0}, 3)
    giver = threading.Thread(target=give_up)
    giver.start()
    time.sleep(1.0)
    q = threading.Thread(target=quick)
    q.start()
    q.join(timeout=60)
    giver.join(timeout=60)
    assert quick_done and quick_done[0] < 15, quick_done  # not behind 8000 decode steps
    time.sleep(1.0)  # the next decode step sees the closed connection
    assert _idle(proc.pid) < 1.0  # the abandoned generation does not go on


def test_a_request_past_the_wall_time_gets_a_504_and_stops(serve):
    proc, url = serve
    start = time.monotonic()
    code, payload = _post(url + "/completions", {"prompt": COUNTING, "max_tokens": 8000, "temperature": 0})
    took = time.monotonic() - start
    assert code == 504 and "--request-timeout" in payload["error"]["message"]
    assert 19 < took < 40
    time.sleep(1.0)
    assert _idle(proc.pid) < 1.0
    code, payload = _post(url + "/completions", {"prompt": "Hello", "max_tokens": 2, "temperature": 0})
    assert code == 200
