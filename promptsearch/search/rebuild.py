"""A stored candidate back as the exact prompt it was scored with: for `eval` (scoring it again on
held-out data) and `export` (formats that substitute values need to know exactly where each
field went); `report` shows the stored text and the verdicts `eval` stored.

The database keeps the prompt with `{field}` placeholders (readable, and what `text` exports),
the demos, trigger, layout and parameters (the strategy's included). Whatever comes out is
checked against the stored prompt hash, which covers the text, the answer prefix, the fields
and the strategy: a prompt that passes is byte for byte the one that was scored.

With the model, the candidate is rendered again (its chat template applied; demos chosen per
input recomputed, which needs the model's embeddings). Without it, a plain layout is rendered
again and a chat layout, which went through the model's chat template, is recovered from the
stored text (the slots put back where the placeholders are); per-input demos cannot be.
"""
from __future__ import annotations

from typing import overload

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, example_id, load_split
from promptsearch.errors import UserError
from promptsearch.evaluate.evaluator import Evaluator
from promptsearch.lm.base import LM
from promptsearch.render.format import PromptFormat
from promptsearch.render.prompt import Candidate, Prompt, PromptTemplate, render_template, slot
from promptsearch.search.bootstrap import DemoSource
from promptsearch.search.params import build_candidate
from promptsearch.search.runner import decoding_for, open_parts, render_candidate
from promptsearch.storage.models import CandidateRow
from promptsearch.storage.store import SearchRecord, Store
from promptsearch.strategies import strategy_from_params


def stored_candidate(row: CandidateRow) -> Candidate:
    """The Candidate a row stands for, with the demos it was scored with (none for per-input demos)."""
    params = dict(row.params or {})
    demos = tuple(Example(id=example_id(d), fields=dict(d)) for d in row.demos)
    return Candidate(instruction=row.instruction, demos=demos, cot_trigger=row.cot_trigger,
                     template=row.template, params=params, strategy=strategy_from_params(params),
                     format=PromptFormat.from_params(params))


def per_input_demos(row: CandidateRow) -> bool:
    return (row.params or {}).get("demo_selection") == "nearest"


@overload
def rebuild_prompt(record: SearchRecord, row: CandidateRow) -> PromptTemplate: ...


@overload
def rebuild_prompt(record: SearchRecord, row: CandidateRow, *, lm: LM, store: Store | None = None) -> Prompt: ...


def rebuild_prompt(record: SearchRecord, row: CandidateRow, *, lm: LM | None = None,
                   store: Store | None = None) -> Prompt:
    """The prompt the stored candidate `row` was scored with (see the module docstring); `store`
    is needed with per-input demos (a rationale pool may be stored there). UserError if it
    cannot be rebuilt exactly."""
    task = TaskSpec.from_dict(record.task)
    if lm is None:
        return _without_model(record, row, task)
    if per_input_demos(row):
        prompt = _nearest(record, row, lm, store)
    else:  # the stored demos are the ones it was scored with
        prompt = render_candidate(stored_candidate(row), task, lm)
    if prompt.hash != row.prompt_hash:
        raise UserError(f"search '{record.name}': candidate {row.prompt_hash[:12]} renders differently "
                        f"now (hash {prompt.hash[:12]}); its train data or settings changed")
    return prompt


def _nearest(record: SearchRecord, row: CandidateRow, lm: LM, store: Store | None) -> Prompt:
    """Per-input demos are chosen again, from the same pool with the same embeddings."""
    task, space, settings = open_parts(record)
    train = load_split(task, "train")
    cache = store.evaluations if store is not None else None
    evaluator = Evaluator(lm, task, cache, decoding_for(settings))
    demos = DemoSource(store, record.id, lm, task, space, train, evaluator)
    candidate = build_candidate(dict(row.params or {}, instruction=0), space, task, train, [row.instruction], demos)
    return render_candidate(candidate, task, lm)


def _without_model(record: SearchRecord, row: CandidateRow, task: TaskSpec) -> PromptTemplate:
    if per_input_demos(row):
        raise UserError(f"search '{record.name}': candidate {row.prompt_hash[:12]} picks its demonstrations "
                        "per input (nearest neighbours), so it has no single static prompt")
    candidate = stored_candidate(row)
    if row.template == "plain":  # plain needs no model: render it again
        template = render_template(candidate, task)
        if template.hash == row.prompt_hash:
            return template
    # The chat layout went through the model's chat template, which is not loaded here: put the
    # slots back where the placeholders are (all of them, else only the query's).
    for recover in (_all_placeholders, _last_placeholders):
        template = PromptTemplate(recover(row.prompt, task.inputs), row.answer_prefix, task.inputs,
                                  candidate.strategy)
        if template.hash == row.prompt_hash:
            return template
    raise UserError(f"search '{record.name}': cannot rebuild the scored template of prompt "
                    f"{row.prompt_hash[:12]} from the database")


def _all_placeholders(text: str, fields: tuple[str, ...]) -> str:
    for name in fields:
        text = text.replace("{" + name + "}", slot(name))
    return text


def _last_placeholders(text: str, fields: tuple[str, ...]) -> str:
    """Only the last occurrence of each placeholder: the query comes after every demonstration."""
    for name in fields:
        marker = "{" + name + "}"
        at = text.rfind(marker)
        if at >= 0:
            text = text[:at] + slot(name) + text[at + len(marker):]
    return text
