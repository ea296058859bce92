"""The dry run (`optimize --dry-run`, `ps.plan`): what a search will cost, before it starts.

Nothing is scored and nothing is written. The estimate runs the search's own code on a model
that only counts (CountingLM): points are drawn from the space with Optuna's RandomSampler on an
in-memory study, rendered exactly as a trial would render them, and each strategy's `run` is
called on a sample of dev examples, so every strategy (and any plug-in one) is costed by what it
really asks for: a label task ranks each label (a call per label), CoT generates then answers,
self-consistency samples k sequences, least-to-most decomposes then answers each sub-question.

Counting follows lm/usage.py (what `--budget` spends): a call per scored label or generated
sequence; prompt tokens per call as sent alone; generated tokens at their limit (max_new_tokens,
the strategy's reasoning limit). Per trial: the mean over the sampled points, scaled from the dev
sample to the dev size, plus the judge's calls when the metric is an LLM judge (each prediction
asked about once per acceptable answer, counted with the searched model's tokenizer). Then:

  trials      x per-trial cost; with a pruner, a pruned trial scores as little as one chunk
              (--chunk-size), so the plan gives that lower bound next to the upper one
  bootstrap   once, when the space has a strategy with rationale demos and the task no rationale
              field: the bootstrap strategy on `bootstrap.tries` train examples
  proposals   the rounds that fall inside the trials (round r runs after r * `every` finished
              trials): induction asks draws x n completions, refinement n, resampling top-n
              paraphrases, reflection n (its prompt shows `examples` failed examples), each up
              to `max_tokens` long (on the proposer model); with a screen, each proposal's
              log-likelihood on `screen.examples` train examples (on the searched model, in the
              same row: a budget counts both)

The total is everything a `--budget` counts (the proposer's and the judge's calls included). It
is an ESTIMATE, not a bound: the per-trial cost is the mean of random points, and a sampler that
favours costlier candidates (more demos, longer instructions) spends more per trial; cached
evaluations and repeated candidates (never scored twice) spend less. The search's budget uses
the per-trial figure for its first trial, then what the trials really spent (search/budget.py).
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from promptsearch.config.propose import ProposeSpec
from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import JUDGE, TaskSpec
from promptsearch.data.dataset import Example, load_split
from promptsearch.data.judge import JudgeMetric
from promptsearch.evaluate.evaluator import decoding_for_settings, with_label_scorer
from promptsearch.evaluate.judge import LocalJudge
from promptsearch.lm.base import LM, GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult
from promptsearch.render.prompt import render_template
from promptsearch.search.bootstrap import DemoSource, with_rationale
from promptsearch.search.params import build_candidate, suggest
from promptsearch.search.racing import make_race
from promptsearch.search.selection import split_dev
from promptsearch.strategies import STRATEGIES, Decoding, Strategy

POINTS = 24  # points drawn from the space
DEV_SAMPLE = 24  # dev examples each point is costed on


class CountingLM(LM):
    """Answers nothing real: counts calls and tokens as lm/usage.py does, with `inner`'s tokenizer
    and chat template. Generated text is `max_new_tokens` short lines ("step"), so a strategy that
    parses a list (least-to-most's sub-questions) sees as many items as it may take."""

    def __init__(self, inner: LM):
        self.inner, self.name = inner, f"plan:{inner.name}"
        self.calls = self.prompt_tokens = self.completion_tokens = 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        return self.inner.apply_chat_template(messages)

    @property
    def max_length(self) -> int:
        return self.inner.max_length

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        self.calls += len(requests)
        self.prompt_tokens += sum(self._tokens(r.context) + self.count_tokens(r.continuation) for r in requests)
        return [LoglikelihoodResult(-float(i), 1, i == 0) for i, _ in enumerate(requests)]

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        out = []
        for r in requests:
            k = r.num_return_sequences
            self.calls += k
            self.prompt_tokens += k * self._tokens(r.context)
            self.completion_tokens += k * r.max_new_tokens
            text = "\n".join(f"{i + 1}. step" for i in range(max(1, r.max_new_tokens // 4)))
            out.append(GenerateResult([text] * k, [-1.0] * k))
        return out

    def _tokens(self, text: str) -> int:
        return self.count_tokens(text) if text else 1

    def totals(self) -> tuple[int, int, int]:
        return self.calls, self.prompt_tokens, self.completion_tokens


@dataclass(frozen=True)
class Cost:
    calls: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0

    @property
    def tokens(self) -> float:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.calls + other.calls, self.prompt_tokens + other.prompt_tokens,
                    self.completion_tokens + other.completion_tokens)

    def __mul__(self, k: float) -> Cost:
        return Cost(self.calls * k, self.prompt_tokens * k, self.completion_tokens * k)


@dataclass(kw_only=True)
class Plan:
    """What `optimize` would do: trials, and model calls and tokens (estimates, see the module)."""

    name: str
    trials: int
    dev_examples: int
    model: str
    pruner: str
    per_trial: Cost  # mean over the sampled points, on the whole dev split (with the judge's calls)
    by_strategy: dict[str, Cost]  # per trial, by strategy
    bootstrap: Cost = field(default_factory=Cost)  # at most once per search
    proposal_rounds: int = 0
    proposals: Cost = field(default_factory=Cost)  # on the proposer model
    proposer: str = ""
    min_trial: Cost | None = None  # with a pruner: a trial pruned after its first chunk
    min_examples: int | None = None  # the dev examples of that shortest trial (a chunk, or the race's first rung)
    judge: Cost = field(default_factory=Cost)  # per trial, in per_trial: an LLM judge metric's calls
    selection: Cost = field(default_factory=Cost)  # a selection split: the top-k re-scored at the end
    notes: list[str] = field(default_factory=list)

    @property
    def trial_cost(self) -> Cost:
        return self.per_trial * self.trials

    @property
    def total(self) -> Cost:
        """Everything a budget counts: trials (with the judge's calls), bootstrap, proposals."""
        return self.trial_cost + self.bootstrap + self.proposals + self.selection

    def to_dict(self) -> dict[str, Any]:
        def cost(c: Cost | None) -> dict[str, float] | None:
            return None if c is None else {"calls": round(c.calls), "prompt_tokens": round(c.prompt_tokens),
                                           "completion_tokens": round(c.completion_tokens), "tokens": round(c.tokens)}
        return {"name": self.name, "trials": self.trials, "dev_examples": self.dev_examples, "model": self.model,
                "pruner": self.pruner, "per_trial": cost(self.per_trial),
                "by_strategy": {k: cost(v) for k, v in self.by_strategy.items()},
                "bootstrap": cost(self.bootstrap), "proposal_rounds": self.proposal_rounds,
                "proposals": cost(self.proposals), "proposer": self.proposer, "min_trial": cost(self.min_trial),
                "judge": cost(self.judge), "selection": cost(self.selection),
                "total": cost(self.total), "notes": list(self.notes)}


class _PlannedDemos(DemoSource):
    """Demos without model calls: bootstrapped rationales stand in as `max_reasoning_tokens` of
    text, nearest-neighbour demos as seeded draws of the same count (same lengths on average)."""

    def _bootstrapped(self) -> list[Example]:
        filler = " ".join(["step"] * max(1, self.space.max_reasoning_tokens // 2))
        return [with_rationale(e, filler) for e in self.bootstrap_examples()]


def plan_search(name: str, task: TaskSpec, space: SpaceSpec, settings: Any, lm: LM, trials: int,
                model: str) -> Plan:
    """The plan of `trials` trials of a new search (see the module docstring)."""
    counter = CountingLM(lm)
    dev, held = split_dev(load_split(task, "dev", settings.dev_limit), settings.select_fraction, settings.seed)
    train = load_split(task, "train")
    sample = _spread(dev, DEV_SAMPLE)
    demos = _PlannedDemos(None, None, counter, task, space, train, None)  # type: ignore[arg-type]  # no evaluator
    decoding = with_label_scorer(decoding_for_settings(settings.max_new_tokens, settings.label_scoring))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=settings.seed))  # in memory
    per_strategy: dict[str, list[Cost]] = defaultdict(list)
    judge, judged = _judge(task, lm), []
    for _ in range(POINTS):
        params = suggest(study.ask(), space, task, space.instructions)
        if params.get("demo_selection") == "nearest":  # embeddings are not computed for a plan
            params = {**params, "demo_selection": "random", "demo_draw": 0}
        candidate = build_candidate(params, space, task, train, space.instructions, demos)
        template = render_template(candidate, task, counter.apply_chat_template)  # no per-input demos here
        before = counter.totals()
        traces = _strategy(template).run(counter, task, [(template, e) for e in sample], decoding)
        per_strategy[params["strategy"]].append(_delta(counter, before) * (len(dev) / len(sample)))
        if judge is not None:
            metric, judge_counter = judge
            before = judge_counter.totals()
            metric.score_many([t.prediction for t in traces], sample)
            judged.append(_delta(judge_counter, before) * (len(dev) / len(sample)))
    costs = [c for cs in per_strategy.values() for c in cs]
    plan = Plan(name=name, trials=trials, dev_examples=len(dev), model=model, pruner=settings.pruner,
                per_trial=_mean(costs) + _mean(judged), by_strategy={k: _mean(v) for k, v in per_strategy.items()},
                judge=_mean(judged))
    per_trial = plan.per_trial
    plan.bootstrap = _bootstrap_cost(counter, task, space, demos, decoding)
    if settings.pruner != "none" and settings.chunk_size < len(dev):
        plan.min_trial = per_trial * (settings.chunk_size / len(dev))
        plan.min_examples = settings.chunk_size
    race = make_race(settings.race, settings.race_start, len(dev))
    first = race.rungs(len(dev))[0] if race is not None else len(dev)
    if first < len(dev):  # a stopped candidate; the first trial has no leader and gets all of dev
        plan.min_trial = per_trial * (first / len(dev))
        plan.min_examples = first
    _propose_cost(plan, counter, task, space, train, settings, trials)
    if held:  # the final re-scoring of the top candidates on the held-out examples (search/pick.py)
        plan.selection = per_trial * (len(held) / len(dev) * min(settings.select_top, trials))
    plan.notes = _notes(plan, task, settings)
    return plan


def _judge(task: TaskSpec, lm: LM) -> tuple[Any, CountingLM] | None:
    """An LLM judge metric that asks a counting model (the searched model's tokenizer stands in
    for the judge's: its model is not loaded for a plan), or None for any other metric."""
    if task.metric != JUDGE:
        return None
    counter = CountingLM(lm)
    return JudgeMetric(task, LocalJudge(counter)), counter


def _strategy(prompt: Any) -> Strategy:
    """The prompt's strategy, which runs it (render accepts any layout; running needs a Strategy)."""
    if not isinstance(prompt.strategy, Strategy):
        raise TypeError(f"{prompt.strategy!r} is not a promptsearch.strategies.Strategy")
    return prompt.strategy


def _spread(examples: list[Example], k: int) -> list[Example]:
    """Up to k examples spread evenly over the split (lengths vary along a file)."""
    if len(examples) <= k:
        return examples
    return [examples[math.floor(i * len(examples) / k)] for i in range(k)]


def _delta(counter: CountingLM, before: tuple[int, int, int]) -> Cost:
    now = counter.totals()
    return Cost(*(a - b for a, b in zip(now, before)))


def _mean(costs: list[Cost]) -> Cost:
    if not costs:
        return Cost()
    total = Cost()
    for c in costs:
        total = total + c
    return total * (1 / len(costs))


def _bootstrap_cost(counter: CountingLM, task: TaskSpec, space: SpaceSpec, demos: DemoSource,
                    decoding: Decoding) -> Cost:
    needs = any(STRATEGIES.get(s).rationale_demos and STRATEGIES.get(s).demo_count(space) is not None
                for s in space.strategies)
    if not needs or task.rationale:
        return Cost()
    prompt = demos.bootstrap_prompt()
    before = counter.totals()
    _strategy(prompt).run(counter, task, [(prompt, e) for e in demos.bootstrap_examples()], decoding)
    return _delta(counter, before)


def _propose_cost(plan: Plan, counter: CountingLM, task: TaskSpec, space: SpaceSpec,
                  train: list[Example], settings: Any, trials: int) -> None:
    """Proposal rounds within `trials` (a round r >= 1 runs once r * every trials have finished)."""
    if not space.propose:
        return
    from promptsearch.propose.methods import PROPOSAL_METHODS, MethodInput, round_methods

    spec = ProposeSpec.from_dict(space.propose)
    plan.proposer = settings.proposer or plan.model
    plan.proposal_rounds = min(spec.rounds, (trials - 1) // spec.every + 1)
    rng = random.Random(space.seed)
    shown = rng.sample(train, min(spec.examples, len(train)))
    # what a later round knows, made up: the seeds scored 0.5, the best one failing on `shown`
    scored = [{"index": i, "text": t, "score": 0.5} for i, t in enumerate(space.instructions[:spec.top])]
    failed = [{"inputs": {k: e[k] for k in task.inputs}, "expected": e[task.output], "answer": e[task.output]}
              for e in shown]
    cost = Cost()
    for rnd in range(plan.proposal_rounds):
        for method in round_methods(spec, rnd):
            inp = MethodInput(task=task, spec=spec, train=train, rng=random.Random(f"{space.seed}:{rnd}:{method}"),
                              scored=scored, failures=lambda k: (scored[0] if scored else {}, failed[:k]))
            asks = PROPOSAL_METHODS.get(method, "propose.methods").asks(inp)
            request = [GenerateRequest(context=t, max_new_tokens=spec.max_tokens, num_return_sequences=asks.n)
                       for t in asks.prompts]
            before = counter.totals()
            counter.generate(request)
            if spec.screen is not None:  # every proposal of the part, scored on the screen's examples
                _screen(counter, task, spec, train, space.seed, len(asks.prompts) * asks.n)
            cost = cost + _delta(counter, before)
    plan.proposals = cost


def _screen(counter: CountingLM, task: TaskSpec, spec: ProposeSpec, train: list[Example], seed: int,
            proposals: int) -> None:
    """The screen's log-likelihood requests (propose/screen.py): proposals x examples, each
    proposal counted at its longest (`max_words` words), as generated tokens are."""
    from promptsearch.propose.screen import screen_examples, screen_scores

    assert spec.screen is not None
    longest = " ".join(["word"] * spec.max_words)
    screen_scores(counter, task, "plain", [longest] * proposals, screen_examples(train, spec.screen, seed))


def _notes(plan: Plan, task: TaskSpec, settings: Any) -> list[str]:
    notes = [f"estimates, not bounds: a trial costs the mean of {POINTS} random points from the space on "
             f"{min(DEV_SAMPLE, plan.dev_examples)} dev examples, scaled to {plan.dev_examples}; generated tokens are "
             "counted at their limit; a search that favours longer prompts spends more per trial, cached "
             "evaluations less"]
    if plan.min_trial is not None and settings.race:
        notes.append(f"racing: a candidate that cannot beat the leader stops after as few as {plan.min_examples} dev "
                     f"examples ({plan.min_trial.calls:,.0f} calls), so the trials cost between "
                     f"{(plan.per_trial + plan.min_trial * (plan.trials - 1)).calls:,.0f} and "
                     f"{plan.trial_cost.calls:,.0f} calls")
    elif plan.min_trial is not None:
        notes.append(f"pruner {plan.pruner}: a pruned trial stops after as few as {settings.chunk_size} dev "
                     f"examples ({plan.min_trial.calls:,.0f} calls), so the trials cost between "
                     f"{(plan.min_trial * plan.trials).calls:,.0f} and {plan.trial_cost.calls:,.0f} calls")
    if plan.proposer and plan.proposer != plan.model:
        notes.append(f"proposals run on the proposer {plan.proposer}; they are in the total, as a --budget "
                     "counts them")
    if plan.judge.calls:
        notes.append(f"per trial includes the judge's {plan.judge.calls:,.0f} calls ({plan.judge.tokens:,.0f} "
                     "tokens, counted with the searched model's tokenizer)")
    return notes


__all__ = ["Cost", "CountingLM", "Plan", "plan_search"]
