"""The scripted fake LM for unit tests of logic, importable from any test module as
`from psfakes import FakeLM` (`from conftest import ...` can find another folder's conftest)."""
from __future__ import annotations

from promptsearch.lm.base import LM, GenerateResult, LoglikelihoodResult


class FakeLM(LM):
    """Scripted model for unit tests of logic: a label scores high when its word is in the last
    input line; generation returns the last line's last capitalised word. Counts its calls."""

    name = "fake-lm"

    def __init__(self):
        self.calls = 0
        self.requests = 0

    def loglikelihood(self, requests):
        self.calls += 1
        self.requests += len(requests)
        out = []
        for r in requests:
            last = r.context.rstrip().split("\n\n")[-1].lower()
            hit = r.continuation.strip().lower() in last
            if "BAD" in r.context:  # a scripted bad instruction: always wrong
                hit = not hit
            out.append(LoglikelihoodResult(logprob=-1.0 if hit else -5.0, num_tokens=1, is_greedy=hit))
        return out

    def generate(self, requests):
        self.calls += 1
        self.requests += len(requests)
        out = []
        for r in requests:
            words = [w.strip(".,!?") for w in r.context.split("\n\n")[-1].split()]
            caps = [w for w in words if w[:1].isupper() and not w.endswith(":")]
            out.append(GenerateResult(texts=[" " + (caps[-1] if caps else "none")]))
        return out

    def apply_chat_template(self, messages):
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>\n" for m in messages) + "<assistant>"
