"""The OpenAI-compatible server (on the scripted fake model: fast) and RemoteLM against it."""
import json
import os
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from psdata import send_json

from promptsearch.errors import NoLogprobsError, UserError
from promptsearch.lm.base import LOGPROB_TOLERANCE, GenerateRequest, LoglikelihoodRequest
from promptsearch.lm.remote import from_chatml, is_remote_spec, load_remote, remote_name, to_chatml
from promptsearch.serve import make_server


@pytest.fixture
def server(fake_lm):
    srv = make_server(fake_lm, "127.0.0.1", 0, model_id="fake")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _post(url: str, body, raw: bytes | None = None):
    req = urllib.request.Request(url, data=raw if raw is not None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_openai_client_talks_to_it(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake"]
    chat = client.chat.completions.create(model="fake", temperature=0, max_tokens=5, messages=[
        {"role": "system", "content": "Name the city."}, {"role": "user", "content": "We flew to Lima."}])
    # the fake model answers with the last capitalised word of its (fake) chat prompt
    assert chat.choices[0].message.content.startswith(" Lima") and chat.choices[0].finish_reason == "stop"
    u = chat.usage
    assert u.prompt_tokens > 0 and u.total_tokens == u.prompt_tokens + u.completion_tokens
    done = client.completions.create(model="fake", prompt=["A trip to Oslo", "and Rome"], max_tokens=3)
    assert [c.text for c in done.choices] == [" Oslo", " Rome"] and done.object == "text_completion"


@pytest.mark.parametrize("path,body,raw,status,fragment", [
    ("/chat/completions", None, b"{not json", 400, "not JSON"),
    ("/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "stream": True}, None, 400,
     "streaming"),
    ("/chat/completions", {"messages": [{"role": "bot", "content": "hi"}]}, None, 400, "role must be one of"),
    ("/chat/completions", {"messages": []}, None, 400, "non-empty list"),
    ("/chat/completions", {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, None, 400,
     "list of text parts"),
    ("/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, None, 400,
     "max_tokens"),
    ("/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stop": ["a"] * 5}, None, 400, "stop"),
    ("/completions", {"prompt": 3}, None, 400, "'prompt' must be"),
    ("/completions", {"prompt": "x", "max_tokens": 0}, None, 400, "send echo=true to score the prompt"),
    ("/completions", {"prompt": "x", "echo": True, "max_tokens": 0, "logprobs": 99}, None, 400,
     "'logprobs' must be an integer from 0 to 20"),
    ("/completions", {"prompt": "x", "echo": True, "max_tokens": 3, "logprobs": 1}, None, 400, "needs max_tokens 0"),
    ("/completions", {"prompt": "x", "echo": "yes"}, None, 400, "'echo' must be true or false"),
    ("/embeddings", {"input": "x"}, None, 404, "no route"),
])
def test_bad_requests_get_openai_style_errors(server, path, body, raw, status, fragment):
    code, payload = _post(server.url + path, body, raw)
    assert code == status and fragment in payload["error"]["message"]
    assert payload["error"]["type"] == "invalid_request_error"


def test_concurrent_requests_share_batches(server, fake_lm):
    results = []
    start = threading.Barrier(8)

    def ask(i):
        start.wait()
        results.append(_post(server.url + "/completions", {"prompt": f"city {i}: Paris", "max_tokens": 2}))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [code for code, _ in results] == [200] * 8
    assert fake_lm.requests == 8 and fake_lm.calls < 8  # fewer model calls than requests


def test_remote_lm_generates_through_the_server(server):
    lm = load_remote("openai/fake", api_base=server.url, concurrency=4)
    assert lm.name == f"openai/fake@{server.url}"
    prompts = [f"a visit to {c}" for c in ("Paris", "Tokyo", "Lima")]  # sent as one user message
    out = lm.generate([GenerateRequest(context=p, max_new_tokens=4) for p in prompts])
    # the fake model answers with the last capitalised word of its chat prompt: "Paris</user>"
    assert [r.texts[0].split("<")[0] for r in out] == [" Paris", " Tokyo", " Lima"]
    chat = lm.apply_chat_template([{"role": "system", "content": "Extract."},
                                   {"role": "user", "content": "In Rome."}])
    assert lm.generate([GenerateRequest(context=chat, max_new_tokens=4)])[0].texts[0].startswith(" Rome")
    u = lm.usage
    assert u["calls"] == 4 and u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert u["unpriced_calls"] == 4 and u["cost_usd"] == 0.0  # a local model has no price
    with pytest.raises(NoLogprobsError, match=f"at {server.url}/completions: refused a scoring request .*"
                                              f"cannot return prompt log-probs"):
        lm.check_loglikelihood()  # the scripted model has no echo


def test_echo_scores_every_prompt_token(smollm):
    """/v1/completions with echo, max_tokens 0 and logprobs, on the real model: every prompt token's
    log-prob, equal to the in-process scoring of the same continuation."""
    srv = make_server(smollm, "127.0.0.1", 0, model_id="smollm2")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        prompts = ["Review: the soup was great\nLabel: positive", "Review: 日本 é\nLabel: negative"]
        code, body = _post(srv.url + "/completions", {"prompt": prompts, "echo": True, "max_tokens": 0, "logprobs": 2})
        assert code == 200 and body["usage"]["completion_tokens"] == 0
        for prompt, choice in zip(prompts, body["choices"]):
            lp = choice["logprobs"]
            assert choice["text"] == prompt and "".join(lp["tokens"]) == prompt
            assert lp["text_offset"] == [sum(len(t) for t in lp["tokens"][:i]) for i in range(len(lp["tokens"]))]
            assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
            assert all(x <= 0 for x in lp["token_logprobs"][1:])
            assert all(lp["tokens"][i] in top and len(top) <= 3 for i, top in enumerate(lp["top_logprobs"]) if top)
            context, label = prompt.rsplit(" ", 1)
            ref = smollm.loglikelihood([LoglikelihoodRequest(context, " " + label)])[0]
            assert lp["tokens"][-1] == " " + label and abs(lp["token_logprobs"][-1] - ref.logprob) < LOGPROB_TOLERANCE
        code, body = _post(srv.url + "/completions", {"prompt": "a b", "echo": True, "max_tokens": 0})
        assert code == 200 and body["choices"][0]["logprobs"] is None and body["choices"][0]["text"] == "a b"
    finally:
        srv.shutdown()
        srv.server_close()


def test_remote_lm_retries_rate_limits():
    """A server that answers 429 twice, then 200: the call succeeds after backing off."""
    hits = []

    class Flaky(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            hits.append(time.monotonic())
            if len(hits) <= 2:
                body, status = {"error": {"message": "slow down", "type": "rate_limit_error"}}, 429
            else:
                body, status = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                "choices": [{"index": 0, "finish_reason": "stop", "text": "Paris",  # either API
                                             "message": {"role": "assistant", "content": "Paris"}}],
                                "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}, 200
            send_json(self, status, body)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        lm = load_remote("openai/m", api_base=f"http://127.0.0.1:{srv.server_address[1]}/v1", num_retries=3)
        assert lm.generate([GenerateRequest(context="City?", max_new_tokens=3)])[0].texts == ["Paris"]
        assert len(hits) == 3 and hits[2] - hits[0] > 0.2  # it waited before retrying
        assert lm.usage["calls"] == 1 and lm.usage["prompt_tokens"] == 9
        lm = load_remote("openai/m", api_base=f"http://127.0.0.1:{srv.server_address[1]}/v1", num_retries=0)
        hits.clear()
        with pytest.raises(UserError, match="request failed after 0 retries"):
            lm.generate([GenerateRequest(context="City?", max_new_tokens=3)])
    finally:
        srv.shutdown()
        srv.server_close()


def test_chatml_round_trip():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "u\nv"},
                {"role": "assistant", "content": "a"}, {"role": "user", "content": "w"}]
    assert from_chatml(to_chatml(messages)) == messages
    assert from_chatml("Review: x\nLabel:") is None


@pytest.mark.parametrize("spec,remote", [
    ("openai/gpt-4o-mini", True), ("ollama_chat/llama3", True), ("hosted_vllm/meta-llama/Llama-3-8B", True),
    ("smollm2", False), (None, False), ("model.gguf", False), ("./models/x", False), ("/abs/path", False),
    ("~/ckpt", False), ("tests/nothing-here", False),  # 'tests' is a folder here: a mistyped local path
])
def test_is_remote_spec(spec, remote):
    assert is_remote_spec(spec) is remote


def test_remote_name_drops_credentials():
    assert remote_name("openai/m", "http://user:pw@host:8000/v1/?key=1") == "openai/m@http://host:8000/v1"
    assert remote_name("openai/m", None) == "openai/m"


def test_a_server_with_file_descriptors_above_1023_still_sees_its_clients(smollm):
    """The client-gone check must work for any descriptor: select() refuses those above 1023, which
    a long-running process reaches, and every request then looked abandoned (closed unanswered)."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    srv = make_server(smollm, "127.0.0.1", 0, model_id="smollm2")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        prompts = ["Review: the soup was great\nLabel: positive"] * 40  # longer than one poll of the client
        code, body = _post(srv.url + "/completions", {"prompt": prompts, "echo": True, "max_tokens": 0, "logprobs": 1})
        assert code == 200 and len(body["choices"]) == 40
    finally:
        srv.shutdown()
        srv.server_close()
        for fd in held:
            os.close(fd)
