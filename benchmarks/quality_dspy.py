"""DSPy's own optimizers as arms of benchmarks/search_quality.py: `mipro` (dspy.MIPROv2) and `gepa`
(dspy.GEPA), on the same model, data, metric and model-call budget as our arms.

Model: the benchmark starts `promptsearch serve` (the same model, e.g. the embedded SmolLM2-135M-
Instruct) as a subprocess on 127.0.0.1 and a free port, and stops it at the end. DSPy reaches it
through a custom engine (`dspy.LM(engine=ServerEngine(...))`, dspy 3.4's canonical interface for
a backend): program calls go to /v1/completions with the raw prompt text, so the model sees
exactly our plain layout; proposal and reflection calls (MIPROv2's prompt model, GEPA's reflection
LM) go to /v1/chat/completions, i.e. through the model's chat template, as an instruct model is
meant to be asked for an instruction.

Adapter: the 135M model cannot follow DSPy's ChatAdapter ([[ ## field ## ]] markers in chat
turns), so DSPy gets `PlainAdapter`, a dspy.Adapter that renders the task's signature with
promptsearch's own renderer (render_template, the `direct` strategy, the plain layout): the
instruction, the demos as "Field: value" blocks, the query ending in "Label:" — byte for byte the
prompt our arms score — and parses the answer as our evaluator does (greedy to the end of the line,
stripped). For label tasks the answer is then mapped to a label as a user would: exact, then
case-insensitive, then the label the answer starts with (the longest); an answer that maps to no
label is kept and scores 0. Other signatures (MIPROv2's proposer) get the same "Field: value"
layout and a lenient parse (the reply, less a repeated field name).

Metric: the task's own metric object (promptsearch's registry) on the mapped answer; GEPA gets
its feedback, or "Correct." / "Wrong: answered X, expected Y." when the metric gives none.

Budget: a model call is one generated sequence the server is asked for, counted in the engine,
i.e. after DSPy's response cache: a cached response costs nothing, as a cached evaluation costs
our arms nothing. Program calls, bootstrapping, MIPROv2's proposer (data summary, program
summary, instructions) and GEPA's reflection calls all count. DSPy's cache is memory-only and
emptied before each arm, so no arm reuses another's calls. On a label task a DSPy program call is
one generation per example while our arms rank the labels (one call per label), so DSPy evaluates
more examples for the same number of calls. GEPA stops through a gepa stop callback once the
count reaches the budget (it finishes the iteration in flight). MIPROv2 has no such hook, so it
runs twice with the same seed: once with one trial, which measures its fixed cost (bootstrapping,
proposals, the default program's full evaluation); then with as many trials as the rest of the
budget pays for at its per-trial cost, replaying the first run from the cache for free (and again,
up to 4 times, while trials that repeated a scored combination — free — left budget over).

On test, the pick (its instruction and demos) is rendered by the same renderer into a prompt JSON
(what `promptsearch export --format json` writes) and judged by `promptsearch.evaluate_heldout`
against the hand prompt, exactly as the fixed arms are: label tasks by log-likelihood ranking.
Its "dev" is the same machinery on dev (so dev - test compares like with like); DSPy's own dev
score of its pick (generation + mapping) is kept as `dspy_dev`. The start prompt of both DSPy arms
is the unoptimized program: the space's first instruction, no demos.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, example_id
from promptsearch.render.format import display_name
from promptsearch.render.prompt import Candidate, render_template
from promptsearch.strategies import DIRECT

log = logging.getLogger("benchmarks.quality_dspy")
PROMPT_MAX_TOKENS = 96  # proposals and reflections (our proposer allows 48 tokens; DSPy's need room)
THREADS = 4  # concurrent DSPy requests: the server batches them


# ---------------------------------------------------------------- the server


class Served:
    """`promptsearch serve` as a subprocess on 127.0.0.1 and a free port (a context manager)."""

    def __init__(self, model: str, log_path: Path, *, threads: int, device: str | None = None,
                 dtype: str | None = None, max_tokens: int = PROMPT_MAX_TOKENS, start_timeout: float = 600.0):
        self.model, self.log_path, self.threads, self.device, self.dtype = model, log_path, threads, device, dtype
        self.max_tokens, self.start_timeout = max_tokens, start_timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> Served:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "promptsearch", "serve", "--model", self.model, "--host", "127.0.0.1",
               "--port", str(port), "--max-tokens", str(self.max_tokens)]
        cmd += ["--device", self.device] if self.device else []
        cmd += ["--dtype", self.dtype] if self.dtype else []
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "HF_HUB_OFFLINE": "1"}
        with open(self.log_path, "w", encoding="utf-8") as out:  # the child keeps its own handle
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        self.url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"promptsearch serve exited ({self.proc.returncode}): "
                                   f"{self.log_path.read_text(encoding='utf-8', errors='replace')[-500:]}")
            try:
                with urllib.request.urlopen(self.url.removesuffix("/v1") + "/health", timeout=2):
                    log.warning("promptsearch serve is up at %s (pid %d)", self.url, self.proc.pid)
                    return self
            except OSError:
                time.sleep(1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"promptsearch serve did not answer at {self.url} in {self.start_timeout:.0f}s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _die_with_parent() -> None:
    """In the server's process before exec: SIGTERM when the benchmark dies, however it dies (a
    `timeout` kill runs no context manager), so no server outlives its run."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# ---------------------------------------------------------------- counting engine


@dataclass
class Counter:
    """Generated sequences the server was asked for, by kind ("program", "prompt")."""

    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    @property
    def calls(self) -> int:
        return sum(self.counts.values())


class ServerEngine:
    """A dspy 3.4 engine (complete(Request) -> Response) in front of `promptsearch serve`: one
    request per call (DSPy fans out n and caches), counted. `chat` False: the messages' text is
    sent as a raw prompt to /v1/completions; True: to /v1/chat/completions."""

    def __init__(self, url: str, counter: Counter, *, chat: bool, kind: str):
        self.url, self.counter, self.chat, self.kind = url, counter, chat, kind

    def complete(self, request):
        from dspy.lm15 import Message, Response, TextPart, Usage

        cfg = request.config
        body: dict[str, Any] = {"model": "served", "max_tokens": cfg.max_tokens,
                                "temperature": 0.0 if cfg.temperature is None else cfg.temperature}
        if cfg.stop:
            body["stop"] = list(cfg.stop)[:4]
        if cfg.seed is not None:
            body["seed"] = cfg.seed
        started = time.perf_counter()
        messages = [{"role": "system", "content": _text(request.system)}] if request.system else []
        messages += [{"role": m.role, "content": m.text or ""} for m in request.messages]
        if self.chat:
            out = _post(f"{self.url}/chat/completions", {**body, "messages": messages})
            choice = out["choices"][0]
            text = choice["message"]["content"]
        else:
            out = _post(f"{self.url}/completions", {**body, "prompt": "\n\n".join(m["content"] for m in messages)})
            choice = out["choices"][0]
            text = choice["text"]
        self.counter.add(self.kind)
        u = out.get("usage") or {}
        log.info("%s call %d: %s prompt tokens, %s generated, %.1fs", self.kind, self.counter.calls,
                 u.get("prompt_tokens"), u.get("completion_tokens"), time.perf_counter() - started)
        return Response(id=out.get("id"), model=out.get("model", "served"), message=Message.assistant([TextPart(text)]),
                        finish_reason=choice.get("finish_reason") or "stop",
                        usage=Usage(input_tokens=u.get("prompt_tokens", 0), output_tokens=u.get("completion_tokens", 0),
                                    total_tokens=u.get("total_tokens", 0)))

    def stream(self, request):
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass


def _text(system) -> str:
    return system if isinstance(system, str) else "".join(getattr(p, "text", "") or "" for p in system)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read().decode("utf-8"))


def served_lm(url: str, counter: Counter, *, chat: bool, kind: str, max_tokens: int, temperature: float):
    import dspy

    return dspy.LM(f"promptsearch/{kind}", engine=ServerEngine(url, counter, chat=chat, kind=kind),
                   max_tokens=max_tokens, temperature=temperature, num_retries=0)


# ---------------------------------------------------------------- the adapter


def map_label(answer: str, labels: tuple[str, ...]) -> str:
    """A generated answer as a label, as a user would read it: exact, then case-insensitive, then
    the longest label the answer starts with (case-insensitive); otherwise the answer itself."""
    text = answer.strip()
    if text in labels:
        return text
    folded = {label.lower(): label for label in labels}
    if text.lower() in folded:
        return folded[text.lower()]
    starts = [label for label in labels if text.lower().startswith(label.lower())]
    return max(starts, key=len) if starts else text


def _field_value(value: Any) -> str:
    """A field's value as prompt text: lists (GEPA's examples with feedback) as numbered blocks,
    mappings as "key: value" lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_field_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "\n\n".join(f"Example {i}:\n{_field_value(v)}" for i, v in enumerate(value, 1))
    return str(value)


def make_adapter(task: TaskSpec, max_new_tokens: int):
    """The PlainAdapter class for `task` (built here so that dspy is imported only when used)."""
    import dspy

    class PlainAdapter(dspy.Adapter):
        """The task's signature in promptsearch's plain layout; other signatures in "Field: value"."""

        def __call__(self, lm, lm_kwargs, signature, demos, inputs):
            if self.is_task(signature):  # as our evaluator decodes: greedy to the end of the line
                lm_kwargs = {"max_tokens": max_new_tokens, "stop": ["\n"], **lm_kwargs}
            return super().__call__(lm, lm_kwargs, signature, demos, inputs)

        @staticmethod
        def is_task(signature) -> bool:
            return (list(signature.input_fields) == list(task.inputs)
                    and list(signature.output_fields) == [task.output])

        def format(self, signature, demos, inputs):
            if self.is_task(signature):
                template = render_template(to_candidate(task, signature.instructions, demos), task)
                query = Example("", {name: _field_value(inputs[name]) for name in task.inputs})
                text = template.fill(query) + template.answer_prefix.rstrip()
            else:
                text = generic_prompt(signature, demos, inputs)
            return [{"role": "user", "content": text}]

        def parse(self, signature, completion):
            if self.is_task(signature):
                answer = completion.strip()
                return {task.output: map_label(answer, task.labels) if task.labels else answer}
            return generic_parse(signature, completion)

    return PlainAdapter()


def to_candidate(task: TaskSpec, instruction: str, demos) -> Candidate:
    """An instruction and DSPy demos (dicts or dspy.Examples) as our candidate: plain layout,
    `direct` strategy, default format (demos missing a field are left out)."""
    names = (*task.inputs, task.output)
    examples = []
    for d in demos:
        values = {n: d.get(n) for n in names}
        if all(v is not None for v in values.values()):
            fields = {n: _field_value(v) for n, v in values.items()}
            examples.append(Example(example_id(fields), fields))
    return Candidate(instruction=instruction, demos=tuple(examples), strategy=DIRECT)


def generic_prompt(signature, demos, inputs) -> str:
    def block(values: dict, outputs: bool) -> str:
        names = list(signature.input_fields) + (list(signature.output_fields) if outputs else [])
        return "\n".join(f"{display_name(n)}: {_field_value(values[n])}" for n in names if values.get(n) is not None)

    first = display_name(next(iter(signature.output_fields)))
    parts = [signature.instructions.strip()] if signature.instructions.strip() else []
    parts += [block(d, True) for d in demos]
    parts.append(f"{block(inputs, False)}\n{first}:")
    return "\n\n".join(parts)


def generic_parse(signature, completion: str) -> dict[str, str]:
    """Each output field's text: after its "Name:" line if the reply has one, the whole reply for
    the first field otherwise (a repeated "Name:" at its start removed)."""
    names = list(signature.output_fields)
    marks = {n: completion.find(f"{display_name(n)}:") for n in names}
    found = sorted((pos, n) for n, pos in marks.items() if pos >= 0)
    out = {n: "" for n in names}
    if not found or found[0][1] != names[0]:
        found = [(0, names[0])] + [f for f in found if f[1] != names[0]]
    for i, (pos, name) in enumerate(found):
        end = found[i + 1][0] if i + 1 < len(found) else len(completion)
        text = completion[pos:end].strip()
        label = f"{display_name(name)}:"
        out[name] = text[len(label):].strip() if text.startswith(label) else text
    return out

