"""A small OpenAI-compatible HTTP server in front of a local model (stdlib only).

  GET  /v1/models             the one model served
  POST /v1/chat/completions   messages -> the model's chat template -> generation
  POST /v1/completions        a raw prompt (or a list of them) -> continuation
  GET  /health                {"status": "ok"}

Supported request fields: max_tokens / max_completion_tokens, temperature (default 1, as OpenAI;
0 = greedy), stop (a string or up to 4), n, seed. Streaming and tools are not supported (a 400 says
so for streaming; tools are ignored).

Scoring a prompt (/v1/completions, as lm-evaluation-harness's local-completions and
promptsearch's RemoteLM.loglikelihood use it): `echo: true, max_tokens: 0, logprobs: k` returns
the prompt as the text and, per prompt token, `tokens`, `token_logprobs` (null for the first),
`text_offset` and `top_logprobs` (the token and the k most likely; k from 0 to MAX_LOGPROBS).
`echo` with generation returns prompt + completion as the text (log-probs then: a 400).

Generated tokens' log-probs: `logprobs: k` on /v1/completions (without echo) and `logprobs: true,
top_logprobs: k` on /v1/chat/completions return, for the first answer of each prompt, every
generated token with its log-prob and the k most likely alternatives, in OpenAI's shapes.

`role` (`serve --role`) makes the server answer like another kind of server, so clients can be
tested against each (lm/remote.py, evaluate/labels.py):

  full                everything above
  chat-only           no /v1/completions (404), as hosted chat APIs
  no-prompt-logprobs  /v1/completions refuses echo scoring (400), as llama.cpp's llama-server
  no-logprobs         as no-prompt-logprobs, and `logprobs` of generated tokens are ignored (null)

Concurrent requests are batched together by one worker thread (batcher.py). Usage counts tokens
with the model's own tokenizer.

Every request is bounded (docs/serve.md): a prompt must fit the model's context (else 400);
`max_tokens` plus the prompt must fit it too when the client gives `max_tokens` (else 400, as
OpenAI answers; the server's default is shortened to the room left instead); a request that runs
past `request_timeout` seconds gets a 504 and its work stops; a client that disconnects has its
work stopped at the next decode step; and a long generation pauses for newer requests.
"""
from __future__ import annotations

import json
import logging
import select
import socket
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from promptsearch.lm.base import LM, GenerateRequest, TokenLogprob
from promptsearch.serve.batcher import Batcher, Cancelled, Ticket

log = logging.getLogger(__name__)
MAX_BODY = 8 << 20  # bytes
MAX_N = 16
MAX_LOGPROBS = 20
REQUEST_TIMEOUT = 300.0  # seconds a request may take, queueing included (serve --request-timeout)
POLL_S = 0.1  # how often a waiting handler checks its client and its deadline
ROLES = ("full", "chat-only", "no-prompt-logprobs", "no-logprobs")
CHAT_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class RequestError(Exception):
    """A bad request: sent back as an OpenAI-style error object with this status."""

    def __init__(self, message: str, param: str | None = None, status: int = 400):
        super().__init__(message)
        self.param, self.status = param, status


class ClientGone(Exception):
    """The client closed its connection while its request was being answered: nothing to send."""


class OpenAIServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must not keep the process alive on shutdown

    def __init__(self, lm: LM, host: str, port: int, model_id: str, max_tokens: int,
                 request_timeout: float = REQUEST_TIMEOUT, role: str = "full"):
        if role not in ROLES:
            raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
        self.lm, self.model_id, self.default_max_tokens, self.role = lm, model_id, max_tokens, role
        self.request_timeout = request_timeout
        self.batcher = Batcher(lm)
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}/v1"

    def server_close(self) -> None:
        super().server_close()
        self.batcher.close()


def make_server(lm: LM, host: str = "127.0.0.1", port: int = 8000, model_id: str | None = None,
                max_tokens: int = 256, request_timeout: float = REQUEST_TIMEOUT, role: str = "full") -> OpenAIServer:
    """Bind (port 0 picks a free one); call `serve_forever()` to answer requests. `role`: which
    kind of server to answer like (ROLES; see the module docstring)."""
    return OpenAIServer(lm, host, port, model_id or lm.name, max_tokens, request_timeout, role)


class Handler(BaseHTTPRequestHandler):
    server: OpenAIServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [self._model_card()]})
        elif path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._error(RequestError(f"no route GET {path}; try /v1/models", status=404))

    def do_POST(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        routes = {"/v1/chat/completions": self._chat, "/chat/completions": self._chat}
        if self.server.role != "chat-only":
            routes.update({"/v1/completions": self._completions, "/completions": self._completions})
        self._deadline = time.monotonic() + self.server.request_timeout
        try:
            if path not in routes:
                raise RequestError(f"no route POST {path}; use /v1/chat/completions or /v1/completions",
                                   status=404)
            self._send(200, routes[path](self._body()))
        except RequestError as e:
            self._error(e)
        except ClientGone:
            self.close_connection = True
        except Exception as e:
            log.exception("request failed")
            self._error(RequestError(f"{type(e).__name__}: {e}", status=500))

    # ------------------------------------------------------------------ endpoints

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = _messages(body.get("messages"))
        try:
            context = self.server.lm.apply_chat_template(messages)
        except NotImplementedError as e:
            raise RequestError(f"{e}; use /v1/completions with a raw prompt") from None
        top = _chat_top(body) if self.server.role != "no-logprobs" else None
        texts, finish, usage, tokens = self._generate([context], body, top)
        choices = [{"index": i, "message": {"role": "assistant", "content": t},
                    "logprobs": None if top is None or i else {"content": _chat_logprobs(tokens[0])},
                    "finish_reason": f} for i, (t, f) in enumerate(zip(texts, finish))]
        return self._envelope("chat.completion", "chatcmpl", choices, usage)

    def _completions(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise RequestError("'prompt' must be a string or a non-empty list of strings", "prompt")
        echo, top = _echo_fields(body)
        if echo and body.get("max_tokens") == 0:
            if self.server.role != "full":
                raise RequestError(f"this server (role {self.server.role}) does not return prompt log-probs "
                                   f"(echo scoring)", "echo")
            return self._score(prompts, top)
        if echo and top is not None:
            raise RequestError("'logprobs' with echo needs max_tokens 0 (score the prompt); promptsearch serve "
                               "returns generated tokens' log-probs without echo only", "logprobs")
        top = None if self.server.role == "no-logprobs" else top
        texts, finish, usage, tokens = self._generate(prompts, body, top)
        n = len(texts) // len(prompts)
        if echo:
            texts = [prompts[i // n] + t for i, t in enumerate(texts)]
        choices = [{"index": i, "text": t, "finish_reason": f,
                    "logprobs": None if top is None or i % n else _completion_logprobs(tokens[i // n])}
                   for i, (t, f) in enumerate(zip(texts, finish))]
        return self._envelope("text_completion", "cmpl", choices, usage)

    def _score(self, prompts: list[str], top: int | None) -> dict[str, Any]:
        """echo + max_tokens 0: the prompts back, with every token's log-prob (lm/echo.py)."""
        if not hasattr(self.server.lm, "echo"):
            raise RequestError(f"model {self.server.model_id} cannot return prompt log-probs", "echo")
        for i, prompt in enumerate(prompts):
            n = self.server.lm.count_tokens(prompt)
            if n > self.server.lm.max_length:
                raise RequestError(f"prompt {i} is {n} tokens, longer than the model's context of "
                                   f"{self.server.lm.max_length} tokens; shorten it", "prompt")
        ticket = Ticket()
        echoes = self._wait(self.server.batcher.echo(prompts, top or 0, ticket), ticket)
        choices = []
        for i, (prompt, e) in enumerate(zip(prompts, echoes)):
            lp = None if top is None else {"tokens": e.tokens, "token_logprobs": e.logprobs,
                                           "text_offset": e.offsets, "top_logprobs": e.top or [None] * len(e.tokens)}
            choices.append({"index": i, "text": prompt, "logprobs": lp, "finish_reason": "length"})
        n = sum(len(e.tokens) for e in echoes)
        return self._envelope("text_completion", "cmpl", choices,
                              {"prompt_tokens": n, "completion_tokens": 0, "total_tokens": n})

    def _generate(self, contexts: list[str], body: dict[str, Any],
                  top: int | None = None) -> tuple[list[str], list[str], dict, list[list[TokenLogprob]]]:
        """`top`: return each prompt's first answer's tokens with this many alternatives (None: none)."""
        lm = self.server.lm
        max_tokens, temperature, stop, n, seed = _sampling(body, self.server.default_max_tokens)
        asked = max_tokens if body.get("max_completion_tokens", body.get("max_tokens")) is not None else None
        lengths = [lm.count_tokens(c) for c in contexts]
        max_tokens = _room(max(lengths), asked, max_tokens, lm.max_length)
        requests = [GenerateRequest(context=c, max_new_tokens=max_tokens, stop=stop, temperature=temperature,
                                    num_return_sequences=n, seed=seed,
                                    top_logprobs=0 if top is None else max(1, top)) for c in contexts]
        ticket = Ticket()
        results = self._wait(self.server.batcher.generate(requests, ticket), ticket)
        texts = [t for r in results for t in r.texts]
        counts = [lm.count_tokens(t) if t else 0 for t in texts]
        finish = ["length" if c >= max_tokens else "stop" for c in counts]
        prompt_tokens = sum(lengths)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": sum(counts),
                 "total_tokens": prompt_tokens + sum(counts)}
        return texts, finish, usage, [r.tokens for r in results]

    def _envelope(self, kind: str, prefix: str, choices: list, usage: dict) -> dict[str, Any]:
        return {"id": f"{prefix}-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()),
                "model": self.server.model_id, "choices": choices, "usage": usage}

    def _model_card(self) -> dict[str, Any]:
        return {"id": self.server.model_id, "object": "model", "created": 0, "owned_by": "promptsearch"}

    # ------------------------------------------------------------------ plumbing

    def _wait(self, future: Future, ticket: Ticket) -> Any:
        """The batcher's answer; sets `ticket` (the work stops) when the client disconnects
        or the request's wall time is up."""
        while True:
            try:
                return future.result(timeout=POLL_S)
            except FutureTimeout:
                pass
            except Cancelled:
                raise ClientGone from None
            if not self._client_connected():
                ticket.set()
                log.info("client %s went away; its request is dropped", self.address_string())
                raise ClientGone
            if time.monotonic() > self._deadline:
                ticket.set()
                raise RequestError(f"the request took longer than this server's limit of "
                                   f"{self.server.request_timeout:g} s (serve --request-timeout); ask for "
                                   f"fewer max_tokens or a shorter prompt", status=504)

    def _client_connected(self) -> bool:
        """False once the peer has closed its end (a readable socket with nothing to read)."""
        # poll, not select: select() refuses file descriptors above 1023, which a busy process
        # reaches, and every client would then look gone
        poller = select.poll()
        poller.register(self.connection, select.POLLIN)
        try:
            readable = bool(poller.poll(0))
            return not readable or self.connection.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise RequestError(f"request body of {length} bytes is over {MAX_BODY}", status=413)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RequestError(f"the body is not JSON ({e})") from None
        if not isinstance(body, dict):
            raise RequestError("the body must be a JSON object")
        if body.get("stream"):
            raise RequestError("streaming is not supported by promptsearch serve; send stream=false", "stream")
        return body

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, e: RequestError) -> None:
        kind = "invalid_request_error" if e.status < 500 else "server_error"
        self._send(e.status, {"error": {"message": str(e), "type": kind, "param": e.param, "code": None}})

    def log_message(self, fmt: str, *args) -> None:
        log.debug("%s %s", self.address_string(), fmt % args)


def _messages(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise RequestError("'messages' must be a non-empty list", "messages")
    out = []
    for i, m in enumerate(raw):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in CHAT_ROLES:
            raise RequestError(f"messages[{i}].role must be one of {', '.join(CHAT_ROLES)}", f"messages[{i}].role")
        out.append({"role": CHAT_ROLES[role], "content": _text(m.get("content"), i)})
    return out


def _text(content: Any, i: int) -> str:
    """A message's content: a string, or a list of text parts (other part types are refused)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise RequestError(f"messages[{i}].content must be a string or a list of text parts",
                       f"messages[{i}].content")


def _chat_top(body: dict[str, Any]) -> int | None:
    """Chat's `logprobs: true, top_logprobs: k`: k (0 when not given), or None when not asked."""
    asked, top = body.get("logprobs"), body.get("top_logprobs")
    if asked is not None and not isinstance(asked, bool):
        raise RequestError("'logprobs' must be true or false", "logprobs")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_LOGPROBS):
        raise RequestError(f"'top_logprobs' must be an integer from 0 to {MAX_LOGPROBS}", "top_logprobs")
    if top is not None and not asked:
        raise RequestError("'top_logprobs' needs 'logprobs' true", "top_logprobs")
    return (top or 0) if asked else None


def _chat_logprobs(tokens: list[TokenLogprob]) -> list[dict[str, Any]]:
    """OpenAI chat's `logprobs.content`: per generated token, its log-prob and the top alternatives."""
    return [{"token": t.token, "logprob": t.logprob, "bytes": list(t.token.encode()),
             "top_logprobs": [{"token": k, "logprob": v, "bytes": list(k.encode())} for k, v in t.top.items()]}
            for t in tokens]


def _completion_logprobs(tokens: list[TokenLogprob]) -> dict[str, Any]:
    """The completions API's `logprobs` of generated tokens (offsets into the returned text)."""
    offsets, at = [], 0
    for t in tokens:
        offsets.append(at)
        at += len(t.token)
    return {"tokens": [t.token for t in tokens], "token_logprobs": [t.logprob for t in tokens],
            "top_logprobs": [dict(t.top) for t in tokens], "text_offset": offsets}


def _echo_fields(body: dict[str, Any]) -> tuple[bool, int | None]:
    echo = body.get("echo") or False
    if not isinstance(echo, bool):
        raise RequestError("'echo' must be true or false", "echo")
    top = body.get("logprobs")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_LOGPROBS):
        raise RequestError(f"'logprobs' must be an integer from 0 to {MAX_LOGPROBS}", "logprobs")
    if body.get("max_tokens") == 0 and not echo:
        raise RequestError("'max_tokens' 0 generates nothing: send echo=true to score the prompt", "max_tokens")
    return echo, top


def _room(prompt: int, asked: int | None, default: int, context: int) -> int:
    """max_new_tokens for a prompt of `prompt` tokens: what the client asked when it fits the
    context (a 400 otherwise), or the server's default shortened to the room left."""
    if prompt >= context:
        raise RequestError(f"the prompt is {prompt} tokens; the model's context is {context} tokens, with "
                           f"room for at least one generated token needed; shorten the prompt", "prompt")
    if asked is None:
        return min(default, context - prompt)
    if prompt + asked > context:
        raise RequestError(f"'max_tokens' {asked} plus the prompt's {prompt} tokens is over the model's "
                           f"context of {context} tokens; ask for at most {context - prompt}", "max_tokens")
    return asked


def _sampling(body: dict[str, Any], default_max: int) -> tuple[int, float, tuple[str, ...], int, int]:
    max_tokens = body.get("max_completion_tokens")
    max_tokens = body.get("max_tokens") if max_tokens is None else max_tokens
    max_tokens = default_max if max_tokens is None else max_tokens
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError("'max_tokens' must be a positive integer", "max_tokens")
    temperature = body.get("temperature", 1.0)
    if temperature is None:
        temperature = 1.0
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise RequestError("'temperature' must be a number from 0 to 2", "temperature")
    stop = body.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else stop
    if not isinstance(stop, (list, tuple)) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
        raise RequestError("'stop' must be a string or a list of at most 4 strings", "stop")
    n = body.get("n") or 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise RequestError(f"'n' must be an integer from 1 to {MAX_N}", "n")
    seed = body.get("seed") or 0
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RequestError("'seed' must be an integer", "seed")
    return max_tokens, float(temperature), tuple(s for s in stop if s), n, seed
