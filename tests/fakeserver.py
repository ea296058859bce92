"""A scripted OpenAI-compatible /v1/completions server (stdlib http.server in a thread), for tests
of remote scoring: rate limits, server errors, servers without prompt log-probs.

Its toy "model" echoes a prompt as whitespace-led word tokens; a word scores -1 when it appears in
the prompt's last paragraph before it (so a review's own label wins, like tests' FakeLM) and -5
otherwise."""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def toy_logprobs(prompt: str, extra: str = "") -> dict:
    """The legacy `logprobs` object for `prompt` (+ `extra`, a 'generated' tail)."""
    text = prompt + extra
    tokens = re.findall(r"\s*\S+|\s+", text)
    offsets, logps, at = [], [], 0
    for tok in tokens:
        before = text[:at].split("\n\n")[-1].lower()
        offsets.append(at)
        logps.append(-1.0 if tok.strip().lower() in before else -5.0)
        at += len(tok)
    logps[0] = None
    tops = [None] + [{t: lp} for t, lp in zip(tokens[1:], logps[1:])]
    return {"tokens": tokens, "token_logprobs": logps, "text_offset": offsets, "top_logprobs": tops}


class FakeCompletions:
    """`script`: statuses to answer first (e.g. [429, 429]); then `mode` decides:
    "ok" (echo log-probs), "no-logprobs" (logprobs: null, like llama-server), "fail" (500s),
    "min-one" (refuses max_tokens 0 like older vLLM; with 1, appends a generated word)."""

    def __init__(self, script=(), mode: str = "ok", retry_after: str | None = "0", delay: float = 0.0):
        self.script, self.mode, self.retry_after, self.delay = list(script), mode, retry_after, delay
        self.bodies: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload, headers = server.answer(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, body: dict) -> tuple[int, dict, dict]:
        with self._lock:
            self.bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            status = self.script.pop(0) if self.script else None
        try:
            time.sleep(self.delay)
            return self._answer(body, status)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, body: dict, status: int | None) -> tuple[int, dict, dict]:
        retry = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
        if status is not None or self.mode == "fail":
            return status or 500, {"error": {"message": "scripted failure", "type": "server_error"}}, retry
        if self.mode == "min-one" and body.get("max_tokens") == 0:
            return 400, {"error": {"message": "max_tokens must be at least 1, got 0."}}, {}
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        tail = " yes" if body.get("max_tokens") else ""
        choices = [{"index": i, "text": p + tail, "finish_reason": "length",
                    "logprobs": None if self.mode == "no-logprobs" else toy_logprobs(p, tail)}
                   for i, p in enumerate(prompts)]
        usage = {"prompt_tokens": sum(len(p.split()) for p in prompts), "completion_tokens": len(prompts) * bool(tail)}
        return 200, {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": body.get("model"),
                     "choices": choices, "usage": usage}, {}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
