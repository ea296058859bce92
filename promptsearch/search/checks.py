"""Checks that keep a score honest, run before anything is written.

Before a search is created (`optimize`, api.create_search/optimize with a model), `preflight`:
  - `--max-new-tokens` must be below the model's context;
  - the longest prompt the space can render -- its longest instruction, the most demos of the
    longest train examples, the longest CoT trigger, the longest dev or test input, in each
    layout -- plus the answer's tokens must fit the context (a backend would otherwise cut the
    prompt's start silently);
  - labels that tokenize to the same ids, or whose tokens are a prefix of another label's
    ("1" and "10": under summed log-probability the longer one can never win), are named in a
    warning that offers `--label-scoring mean`;
  - the metric is built (a judge's model loads here, so a bad one fails before the search exists).

Before a search continues (`resume`, `worker`, `eval`), `check_unchanged` compares the digests
of its train/dev/test files and Python metric, stored when it was created, with the files now;
a changed file would mix scores of old and new data in one leaderboard, so it is refused with the
command that starts a new search with the same settings. Searches stored before fingerprints
existed have none and continue as before.
"""
from __future__ import annotations

import logging
import shlex

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, load_split
from promptsearch.data.fingerprint import task_files, task_fingerprints
from promptsearch.errors import ConfigError, UserError
from promptsearch.evaluate.judge import metric_for
from promptsearch.lm.base import LM
from promptsearch.render import Candidate, render
from promptsearch.render.prompt import expand_instruction
from promptsearch.search.runner import SearchSettings
from promptsearch.storage.store import SearchRecord
from promptsearch.strategies import DIRECT, STRATEGIES
from promptsearch.strategies.steps import ANSWER_TOKENS

log = logging.getLogger(__name__)


def preflight(task: TaskSpec, space: SpaceSpec, lm: LM, settings: SearchSettings) -> list[str]:
    """Every check above that needs the model; raises a UserError, or returns warnings."""
    check_prompt_fits(task, space, lm, settings)
    warnings = label_warnings(task, lm, settings.label_scoring)
    metric_for(task, lm)
    return warnings


# ----------------------------------------------------------------------------- context length

def check_prompt_fits(task: TaskSpec, space: SpaceSpec, lm: LM, settings: SearchSettings) -> None:
    limit = lm.max_length
    if settings.max_new_tokens >= limit:
        raise ConfigError(f"--max-new-tokens: {settings.max_new_tokens} is not below the model's context of "
                          f"{limit} tokens, so no prompt would fit; use a small answer budget (default 32)")
    prompt, parts = longest_prompt(task, space, lm)
    answer, why = answer_budget(task, space, lm, settings)
    if prompt + answer > limit:
        raise ConfigError(f"the longest prompt does not fit the model's context: {prompt} prompt tokens ({parts}) "
                          f"+ {answer} for the answer ({why}) = {prompt + answer} > {limit} tokens; lower "
                          f"demos.counts in {space.source or 'the search space'}, shorten the longest examples "
                          f"or lower --max-new-tokens")


def longest_prompt(task: TaskSpec, space: SpaceSpec, lm: LM) -> tuple[int, str]:
    """(tokens, what it is made of) of the longest prompt the space renders for the task."""
    instruction = max(space.instructions, key=lambda i: lm.count_tokens(expand_instruction(i, task)))
    counts = [STRATEGIES.get(name).demo_count(space) for name in space.strategies]
    n = max((max(c.choices) for c in counts if c is not None), default=0)
    train = load_split(task, "train")
    demos = sorted(train, key=lambda e: -_length(e, (*task.inputs, task.output)))[:n]
    queries = load_split(task, "dev") + load_split(task, "test")
    query = max(queries, key=lambda e: _length(e, task.inputs))
    triggers = [t for t in space.cot_triggers if t]
    trigger = max(triggers, key=len) if triggers else None
    longest = 0
    for template in space.templates:
        candidate = Candidate(instruction=instruction, demos=tuple(demos), cot_trigger=trigger, template=template,
                              strategy=DIRECT)
        try:
            prompt = render(candidate, task, lm.apply_chat_template)
        except NotImplementedError:  # no chat template: the search itself reports that
            continue
        longest = max(longest, lm.count_tokens(prompt.per_example([query])[0].fill(query) + prompt.answer_prefix))
    return longest, (f"the longest instruction, {len(demos)} demos from the longest train examples, "
                     f"the longest dev or test input")


def _length(example: Example, fields: tuple[str, ...]) -> int:
    return sum(len(example[f]) for f in fields)


def answer_budget(task: TaskSpec, space: SpaceSpec, lm: LM, settings: SearchSettings) -> tuple[int, str]:
    """Tokens the answer may add to the prompt, and why."""
    if task.labels is not None:  # a label task
        budget, why = max(lm.count_tokens(" " + label) for label in task.labels), "the longest label"
    else:
        budget, why = settings.max_new_tokens, "--max-new-tokens"
    if any(s != "direct" for s in space.strategies):
        reasoning = space.max_reasoning_tokens + ANSWER_TOKENS
        if reasoning > budget:
            budget, why = reasoning, "max_reasoning_tokens and the answer step"
    return budget, why


# ----------------------------------------------------------------------------- labels

def label_warnings(task: TaskSpec, lm: LM, label_scoring: str = "sum") -> list[str]:
    """Labels the ranking cannot tell apart fairly, in the plain (" label") and chat layouts."""
    labels = task.labels
    if labels is None:  # not a label task
        return []
    found: dict[tuple[str, str], str] = {}
    for context, prefix in (("Answer:", " "), ("Answer:\n", "")):
        ids: dict[str, list[int]] = {}
        for label in labels:
            got = lm.continuation_ids(context, prefix + label)
            if got is None:
                return []  # the backend cannot say how it tokenizes
            ids[label] = list(got)
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                short, long = (a, b) if len(ids[a]) <= len(ids[b]) else (b, a)
                pair = (short, long)
                if ids[a] == ids[b]:
                    found.setdefault(pair, f"labels '{a}' and '{b}' tokenize to the same ids {ids[a]}, so the "
                                             f"model cannot tell them apart; rename one (--label-scoring mean "
                                             f"does not separate identical tokens)")
                elif ids[long][:len(ids[short])] == ids[short] and label_scoring == "sum":
                    found.setdefault(pair, f"label '{short}' is a token prefix of '{long}': under summed "
                                                    f"log-probability '{long}' can never win; pass --label-scoring "
                                                    f"mean to rank labels by mean token log-probability")
    return list(found.values())


# ----------------------------------------------------------------------------- changed files

def check_unchanged(record: SearchRecord) -> None:
    """Refuse to continue a search whose data or metric file changed since it was created."""
    stored = record.task.get("fingerprints")
    if not stored:
        log.info("search %s has no stored file fingerprints (made by an older version)", record.name)
        return
    task = TaskSpec.from_dict(record.task)
    files, now = task_files(task), task_fingerprints(task)
    for role, digest in stored.items():
        if now.get(role) == digest:
            continue
        what = "no longer exists" if now.get(role) == "missing" else "has changed"
        raise UserError(f"{files.get(role, role)}: the {role} file of search '{record.name}' {what} since the "
                        f"search was created, and its scores would mix old and new data; restore the file, or "
                        f"start a new search with the same settings: {rerun_command(record)}")


def rerun_command(record: SearchRecord) -> str:
    """`promptsearch optimize ...` with the search's task, space, model and non-default settings."""
    task, space = record.task, record.space
    args = ["promptsearch", "optimize", task.get("source") or "TASK.yaml",
            "--space", space.get("source") or "SPACE.yaml", "--model", record.model]
    defaults = SearchSettings().to_dict()
    for key, value in record.settings.items():
        if key in defaults and value is not None and value != defaults[key]:
            args += [f"--{key.replace('_', '-')}", str(value)]
    args += ["--name", f"{record.name}-2"]
    return " ".join(shlex.quote(a) for a in args)
