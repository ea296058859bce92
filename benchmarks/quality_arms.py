"""The parts of benchmarks/search_quality.py that set a comparison up: the tasks (written as task
YAMLs into a temp dir, pointing at ../shared/datasets — nothing is copied into the project), the
arms' search spaces, and a model proxy that counts model calls so that every arm can be given the
same number of them.

A model call is one request to the model: a log-likelihood request (one label after one prompt)
counts 1, a generation request counts once per sequence it returns (a proposer asking for 4
samples makes 4 calls). Cached evaluations make no request and cost nothing, so an arm that keeps
drawing the same candidate gets more trials for its budget, as it would in a real search.

Arms (each a search through promptsearch's Python API, each in its own database, so no arm is
served from another's evaluation cache):
  tpe+propose  today's TPE + LLM proposal (the project's shipped propose block)
  new          TPE + formats + screened proposal + reflection (issue 14): the same base space plus
               the blocks in NEW_FORMATS / NEW_PROPOSE (or --new-space / --new-propose); a block the
               installed promptsearch rejects is dropped and the arm is reported DEGRADED
  tpe          TPE over the seed instructions only
  tpe+formats  TPE over the seed instructions and the formats block, no proposal: an ablation of the
               new arm (not run unless --arms names it)
  random       Optuna's RandomSampler over the same space
  mipro, gepa  dspy.MIPROv2 and dspy.GEPA on the same model, data, metric and budget, through
               `promptsearch serve` and a plain adapter (quality_dspy.py, quality_dspy_arms.py)
  zero-shot    the space's first instruction, no demos, no trigger, plain layout (one candidate)
  hand         "a sensible hand prompt": the first instruction with 5 random train demos, seeded
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from promptsearch.lm.base import LM, GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "search_spaces"
SEARCH_ARMS = ("tpe+propose", "new", "new+race", "new+select", "tpe", "tpe+formats", "random")  # until the budget
# The new arm's space with a setting of issue 24: racing for the lead, or a selection split (30% of dev
# held out; the top 5 by dev re-scored there at the end, inside the arm's budget).
ARM_SETTINGS: dict[str, dict[str, Any]] = {"new+race": {"race": True},
                                           "new+select": {"select_fraction": 0.3, "select_top": 5}}
FIXED_ARMS = ("zero-shot", "hand")  # one candidate each
DSPY_ARMS = ("mipro", "gepa")  # DSPy's optimizers through `promptsearch serve` (quality_dspy.py)
ARMS = ("tpe+propose", "new", "new+race", "new+select", "tpe", "tpe+formats", "random", "mipro", "gepa", "zero-shot",
        "hand")
DEFAULT_ARMS = ("tpe+propose", "new", "tpe", "random", "mipro", "gepa", "zero-shot", "hand")  # issues 14, 24
HAND_DEMOS = 5

# What the new arm adds to the base space: the blocks of issue 14's items 1-3, in the field names
# of the `formats` block (config/formats.py) and of the propose block's `screen` and `reflection`
# (config/propose.py, search_spaces/propose_screened.yaml) as their branches define them. A block
# the installed promptsearch does not know is rejected by its own space parser, and the arm then
# runs without it and says so (DEGRADED). --new-space / --new-propose replace these.
NEW_FORMATS: dict[str, Any] = {  # 2 x 3 x 3 x 3 x 2 = 108 formats
    "field_names": ["data", "generic"],
    "separators": [": ", " - ", ":\n"],
    "casing": ["as_is", "upper", "lower"],
    "spacing": ["blank", "###", "---"],
    "answer_prefixes": [None, "Answer"],
}
NEW_PROPOSE: dict[str, Any] = {
    "methods": ["induction", "refinement", "resampling", "reflection"],
    "screen": {"examples": 8, "keep": 2},
}


@dataclass(frozen=True)
class Bench:
    """One benchmark task: where its data lives and how it is scored."""

    name: str
    folder: str | None  # under the datasets folder; None: a task file bundled in examples/
    body: str  # the task YAML after name/train/dev/test
    space: str  # the base search space, in search_spaces/
    max_new_tokens: int = 32  # generation tasks

    @property
    def kind(self) -> str:
        return "classification" if "labels:" in self.body else "generation"


def _labels(*labels: str) -> str:
    return "labels: [" + ", ".join(repr(x) for x in labels) + "]\n"


BBH_LABEL = "inputs: [input]\noutput: target\nmetric: accuracy\n"
TASKS: dict[str, Bench] = {b.name: b for b in (
    Bench("sst2", "sst2", "inputs: [sentence]\noutput: label\nmetric: accuracy\n" + _labels("negative", "positive"),
          "default.yaml"),
    Bench("trec", "trec", "inputs: [question]\noutput: label\nmetric: accuracy\n" + _labels(
        "abbreviation", "description", "entity", "human", "location", "number"), "default.yaml"),
    Bench("boolean_expressions", "bbh/boolean_expressions", BBH_LABEL + _labels("True", "False"), "default.yaml"),
    Bench("sports_understanding", "bbh/sports_understanding", BBH_LABEL + _labels("yes", "no"), "default.yaml"),
    Bench("web_of_lies", "bbh/web_of_lies", BBH_LABEL + _labels("Yes", "No"), "default.yaml"),
    Bench("navigate", "bbh/navigate", BBH_LABEL + _labels("Yes", "No"), "default.yaml"),
    Bench("date_understanding", "bbh/date_understanding",
          BBH_LABEL + _labels("(A)", "(B)", "(C)", "(D)", "(E)", "(F)"), "default.yaml"),
    Bench("object_counting", "bbh/object_counting", "inputs: [input]\noutput: target\nmetric: numeric\n",
          "short_answer.yaml", max_new_tokens=8),
    Bench("gsm8k", "gsm8k", "inputs: [question]\noutput: answer\nmetric: numeric\n", "short_answer.yaml", 16),
    Bench("svamp", "svamp", "inputs: [question]\noutput: answer\nmetric: numeric\n", "short_answer.yaml", 16),
    Bench("review_sentiment", None, "", "default.yaml"),
    Bench("city_extraction", None, "", "extraction.yaml"),
)}


def find_datasets() -> Path:
    """../shared/datasets beside the project (or beside a folder above it: git worktrees)."""
    for parent in ROOT.parents:
        if (parent / "shared" / "datasets").is_dir():
            return parent / "shared" / "datasets"
    return ROOT.parent / "shared" / "datasets"


def task_file(bench: Bench, data: Path, workdir: Path) -> Path:
    """A task YAML in `workdir` whose splits are the shared data's files (absolute paths)."""
    if bench.folder is None:
        return ROOT / "examples" / f"{bench.name}.yaml"
    d = data / bench.folder
    if not d.is_dir():
        raise FileNotFoundError(f"{d} not found (--data names the shared datasets folder)")
    path = workdir / f"{bench.name}.task.yaml"
    path.write_text(f"name: {bench.name}\ntrain: {d / 'train.jsonl'}\ndev: {d / 'dev.jsonl'}\n"
                    f"test: {d / 'test.jsonl'}\n{bench.body}", encoding="utf-8")
    return path


# ---------------------------------------------------------------- counting model calls


class CountingLM(LM):
    """The same model behind the same two calls, counting the requests it answers.

    Everything else (name, fingerprint — the evaluation cache key —, chat template, tokenizer
    helpers) is the wrapped model's, so a search cannot tell the difference."""

    def __init__(self, inner: LM):
        self.inner, self.name = inner, inner.name
        self.loglikelihood_requests = 0
        self.generated_sequences = 0

    @property
    def calls(self) -> int:
        return self.loglikelihood_requests + self.generated_sequences

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        self.loglikelihood_requests += len(requests)
        return self.inner.loglikelihood(requests)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        self.generated_sequences += sum(r.num_return_sequences for r in requests)
        return self.inner.generate(requests)

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        return self.inner.apply_chat_template(messages)

    @property
    def max_length(self) -> int:
        return self.inner.max_length

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def continuation_ids(self, context: str, continuation: str) -> list[int] | None:
        return self.inner.continuation_ids(context, continuation)

    def __getattr__(self, name: str) -> Any:  # backend extras (supports_loglikelihood, ...)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


# ---------------------------------------------------------------- the arms' spaces


@dataclass
class ArmSpace:
    """The space file an arm searches, and what the new arm had to do without."""

    path: Path
    degraded: list[str] = field(default_factory=list)  # one line per feature that is missing
    features: list[str] = field(default_factory=list)  # what the new arm does have


def read_space(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_space(raw: dict[str, Any], path: Path) -> Path:
    """Write and parse with promptsearch's own parser (a bad block raises its one-line error)."""
    from promptsearch.config import load_space

    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    load_space(path)
    return path


def today_propose(budget_trials: int) -> dict[str, Any]:
    """The shipped propose block (search_spaces/propose.yaml), a round every ~budget/5 trials."""
    block = dict(read_space(SPACES / "propose.yaml")["propose"])
    block["every"] = max(3, budget_trials // 5)
    return block


def arm_space(arm: str, base: Path, workdir: Path, tag: str, *, budget_trials: int, seed: int,
              new_space: Path | None = None, new_propose: dict[str, Any] | None = None) -> ArmSpace:
    """The space file for `arm` over the base space `base`, written into `workdir`."""
    raw = read_space(base)
    raw.pop("propose", None)
    raw["name"] = f"{raw.get('name', base.stem)}-{arm}"
    out = workdir / f"{tag}-{arm.replace('+', '_')}.space.yaml"
    if arm in FIXED_ARMS:
        return ArmSpace(write_space(fixed_space(raw, arm, seed), out))
    if arm == "tpe+propose":
        raw["propose"] = today_propose(budget_trials)
    if arm.startswith("new"):  # new, new+race, new+select: the same space
        return new_arm_space(raw, out, budget_trials, new_space, new_propose)
    if arm == "tpe+formats":
        raw["formats"] = NEW_FORMATS
    return ArmSpace(write_space(raw, out))


def fixed_space(raw: dict[str, Any], arm: str, seed: int) -> dict[str, Any]:
    """One candidate: the first instruction, plain layout, no trigger; 0 demos (zero-shot) or
    HAND_DEMOS random train demos drawn with `seed` (the hand prompt)."""
    return {"name": raw["name"], "instructions": [raw["instructions"][0]],
            "demos": {"counts": [0 if arm == "zero-shot" else HAND_DEMOS], "selection": ["random"], "draws": 1},
            "cot_triggers": [None], "templates": ["plain"], "seed": seed}


def new_arm_space(raw: dict[str, Any], out: Path, budget_trials: int, new_space: Path | None,
                  new_propose: dict[str, Any] | None) -> ArmSpace:
    """Base space + formats + screened proposal with reflection. Each addition (the formats block,
    each propose key) is tried on its own with promptsearch's parser; what it rejects is left out
    and listed in `degraded`. A --new-space file is used as given, plus --new-propose if any."""
    from promptsearch.errors import UserError

    if new_space is not None:
        raw = read_space(new_space)
        raw.setdefault("name", new_space.stem)
        additions = [("formats", raw["formats"])] if "formats" in raw else []
        additions += [(f"propose.{k}", v) for k, v in (new_propose or {}).items()]
    else:
        additions = [("formats", NEW_FORMATS)]
        additions += [(f"propose.{k}", v) for k, v in (NEW_PROPOSE if new_propose is None else new_propose).items()]
    kept = {k: v for k, v in raw.items() if k != "formats"}
    kept["propose"] = dict(raw.get("propose") or today_propose(budget_trials))
    result = ArmSpace(out)
    for what, value in additions:
        trial = {**kept, "propose": dict(kept["propose"])}
        if what == "formats":
            trial["formats"] = value
        else:
            trial["propose"][what.split(".", 1)[1]] = value
        try:
            write_space(trial, out)
        except UserError as e:
            result.degraded.append(f"{what} left out: " + str(e).replace(str(out), "the new arm's space"))
            continue
        kept = trial
        result.features.append(what)
    write_space(kept, out)
    return result
