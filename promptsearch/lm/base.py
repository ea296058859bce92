"""The narrow language-model interface every backend implements (after lm-evaluation-harness).

Callers build request objects; a backend answers a whole list at once, so it is free to sort,
bucket, share prompt prefixes and batch however its hardware likes. Tasks, rendering and search
never see tensors, and backends never see tasks.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

# What the engine promises about a log-probability: the same request gives the same value to within
# this, whatever the batch it is scored in (shape, padding, shared prefixes, --parallel-candidates
# merging), the thread count or the CPU. float32 sums taken in another order (another batch
# layout, another SIMD width) move a log-prob by ~1e-6 to 1e-5; this bounds it. Stated once: every
# numeric tolerance in the tests on a model's numbers derives from it (tests never demand more).
LOGPROB_TOLERANCE = 1e-4


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context). The continuation usually starts with a space (" positive")."""

    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodResult:
    logprob: float  # sum of the continuation tokens' log-probabilities (natural log)
    num_tokens: int  # continuation length in tokens, for length normalisation
    is_greedy: bool  # every continuation token is the argmax at its position


@dataclass(frozen=True, kw_only=True)
class GenerateRequest:
    """Continue `context`; stop at the first of `stop` (the stop string is not returned)."""

    context: str
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ("\n",)
    temperature: float = 0.0  # 0 = greedy
    num_return_sequences: int = 1
    seed: int = 0  # for sampling; ignored when greedy
    # > 0: also return, for each token of the first text, the k most likely tokens at its position
    # (OpenAI's `top_logprobs`); label scoring by the first token reads them (evaluate/labels.py)
    top_logprobs: int = 0


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its text, log-prob, and the `top_logprobs` most likely {text: log-prob}
    at its position (the token itself may be among them)."""

    token: str
    logprob: float
    top: dict[str, float]


@dataclass(frozen=True)
class GenerateResult:
    texts: list[str]  # num_return_sequences continuations, stop strings cut off
    logprobs: list[float] = field(default_factory=list)  # summed log-prob of each text's tokens
    # the first text's tokens with their alternatives, when the request asked for top_logprobs
    # (empty from a backend or server that gives none)
    tokens: list[TokenLogprob] = field(default_factory=list)


class LM(ABC):
    """A language model behind two calls. `name` identifies weights + precision for caching."""

    name: str

    @property
    def fingerprint(self) -> str:
        """What cached results are keyed by: the weights' identity and precision, never a display
        name (see lm/fingerprint.py). Backends that know their weights override it; a remote
        model's name is already its provider/model and API base."""
        return self.name

    @abstractmethod
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """One result per request, in request order."""

    @abstractmethod
    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        """One result per request, in request order."""

    def check_loglikelihood(self) -> None:
        """Raise a one-line UserError when this model cannot score continuations. A local model
        always can (a no-op); a remote one sends one tiny request, so a server without prompt
        log-probs is refused before a label search writes anything."""
        return None

    def check_generate(self) -> None:
        """Raise a one-line UserError when this model cannot answer at all. A local model always
        can (a no-op); a remote one sends one tiny request before anything is written."""
        return None

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        """Render OpenAI-style messages as the model's chat prompt, ready for the assistant turn."""
        raise NotImplementedError(f"{type(self).__name__} has no chat template")

    @property
    def max_length(self) -> int:
        """Longest context + continuation the model accepts, in tokens."""
        return 2048

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` (used to reject examples longer than the context window)."""
        return len(text.split())

    def continuation_ids(self, context: str, continuation: str) -> list[int] | None:
        """The token ids `loglikelihood` scores for `continuation` after `context`, or None when
        the backend cannot say (used to warn about labels that tokenize alike)."""
        return None
