"""Who writes the proposals: the in-process model through our engine, or any model `dspy.LM`
reaches through a DSPy program. Both answer `complete(prompt, n)` with raw texts."""
from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from promptsearch.lm.base import LM, GenerateRequest
from promptsearch.lm.usage import UsageCounter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    sent: str  # exactly what went to the model (for a DSPy proposer: the adapter's messages)
    texts: list[str]  # the raw answers


class Proposer(ABC):
    name: str

    @abstractmethod
    def complete(self, prompts: list[str], n: int, *, temperature: float, max_tokens: int,
                 seed: int) -> list[Completion]:
        """n sampled answers for each prompt."""

    def usage_model(self) -> Any:
        """What keeps this proposer's usage counters (`.usage`, lm/usage.py), for budgets."""
        return self


class LocalProposer(Proposer):
    """The in-process model, by plain completion: a 135M model cannot follow DSPy's adapters,
    but it continues "The instruction was to" well enough."""

    def __init__(self, lm: LM):
        self.lm, self.name = lm, lm.name

    def usage_model(self) -> Any:
        return self.lm  # the task's own model is counted once

    def complete(self, prompts, n, *, temperature, max_tokens, seed):
        requests = [GenerateRequest(context=p, max_new_tokens=max_tokens, stop=("\n",), temperature=temperature,
                                    num_return_sequences=n, seed=seed + i) for i, p in enumerate(prompts)]
        return [Completion(p, r.texts) for p, r in zip(prompts, self.lm.generate(requests))]


class DSPyProposer(Proposer):
    """A `dspy.LM` (hosted API, vLLM, Ollama, ...) running a DSPy signature. DSPy's settings are
    never set globally: the LM is bound with `dspy.context` for each call."""

    def __init__(self, model: str, **lm_kwargs):
        import dspy  # only on this path: the local path never imports DSPy

        self.dspy, self.name = dspy, model
        if lm_kwargs.get("api_base") and "api_key" not in lm_kwargs and not os.environ.get("OPENAI_API_KEY"):
            lm_kwargs["api_key"] = "EMPTY"  # local OpenAI-compatible servers take any key, but one must be sent
        self.lm = dspy.LM(model, cache=False, **lm_kwargs)
        self._usage = UsageCounter()

        class ProposeInstruction(dspy.Signature):
            """Read the request and answer with exactly one new instruction for a language model."""

            request: str = dspy.InputField()
            instruction: str = dspy.OutputField(desc="one instruction, one or two sentences")

        self.program = dspy.Predict(ProposeInstruction)

    def complete(self, prompts, n, *, temperature, max_tokens, seed):
        out = []
        for prompt in prompts:
            seen = len(self.lm.history)
            with self.dspy.context(lm=self.lm):
                pred = self.program(request=prompt, config={"n": n, "temperature": temperature,
                                                            "max_tokens": max(max_tokens, 256)})
            texts = list(pred.completions.instruction) if hasattr(pred, "completions") else [pred.instruction]
            for entry in self.lm.history[seen:]:  # DSPy may send several requests for one program call
                self._count(entry)
            sent = self.lm.history[-1].get("messages") if self.lm.history else None
            out.append(Completion(json.dumps(sent, ensure_ascii=False) if sent else prompt, texts))
        return out

    @property
    def usage(self) -> dict[str, float]:
        """Calls (one per answer returned), tokens and cost as dspy.LM's history records them
        (lm/usage.py), so a budget counts a remote proposer's requests too."""
        return self._usage.snapshot()

    def _count(self, entry: dict) -> None:
        found = entry.get("usage")
        usage: dict = found if isinstance(found, dict) else {}
        calls = len(entry.get("outputs") or ()) or 1
        cost = entry.get("cost")
        self._usage.add(calls=calls, prompt_tokens=_int(usage.get("prompt_tokens")),
                        completion_tokens=_int(usage.get("completion_tokens")),
                        **({"cost_usd": float(cost)} if isinstance(cost, (int, float)) else {"unpriced_calls": calls}))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def make_proposer(spec: str | None, task_lm: LM, *, api_base: str | None = None) -> Proposer:
    """None: the task's own model. A `provider/model` string that is no local path: that model
    through DSPy. Otherwise a local model (folder, .gguf or "smollm2"), loaded in process."""
    if spec is None:
        return LocalProposer(task_lm)
    from promptsearch.lm.remote import is_remote_spec
    if is_remote_spec(spec):
        from promptsearch.lm.urls import resolve_api_base  # stored without its credentials
        api_base = resolve_api_base(api_base, f"--proposer {spec}")
        return DSPyProposer(spec, **({"api_base": api_base} if api_base else {}))
    from promptsearch.lm import loader  # the command's loader: the task's own spec is task_lm
    return LocalProposer(loader.load(spec))
