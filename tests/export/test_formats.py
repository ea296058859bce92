"""Each export format, loaded in its target tool, on real searches with the real embedded model.

Two one-point searches (plain layout and chat layout) keep it fast; their instruction and CoT
trigger carry Jinja syntax on purpose, so the Jinja export has something to escape.
"""
import json
from pathlib import Path

import jinja2
import pytest

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.data import load_split
from promptsearch.evaluate import decoding_key
from promptsearch.export import EXPORTERS, render_export
from promptsearch.export.chat import fill_messages
from promptsearch.export.dspy_program import dspy_instructions, signature_string
from promptsearch.lm.base import LoglikelihoodRequest
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.results import best
from promptsearch.storage import Store
from promptsearch.strategies import Decoding

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
INSTRUCTION = "Label the {inputs} as {labels}. Braces stay literal: {{ not_a_var }} {% if x %} {# no #} {"
TRIGGER = "Think {%step%} by step."


def _space(tmp_path: Path, template: str) -> Path:
    p = tmp_path / f"space-{template}.yaml"
    p.write_text(json.dumps({"name": f"one-{template}", "instructions": [INSTRUCTION],
                             "demos": {"counts": [2], "selection": ["random"]},
                             "cot_triggers": [TRIGGER], "templates": [template], "seed": 1}))
    return p


@pytest.fixture(scope="module")
def searches(tmp_path_factory, smollm):
    """Two real searches (one trial each, 3 dev examples) in one database: 'plain' and 'chat'."""
    tmp = tmp_path_factory.mktemp("export")
    db = f"sqlite:///{tmp}/export.db"
    store = Store(db)
    task = load_task(TASK)
    for layout in ("plain", "chat"):
        record = new_search(store, layout, task, load_space(_space(tmp, layout)), "smollm2",
                               SearchSettings(dev_limit=3))
        run_trials(store, record, smollm, 1)
    return db, store, task


def _exported(db: str, name: str, fmt: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{name}-{fmt}.json"  # dspy's .load() needs a .json name; the others do not care
    assert main(["export", name, "--format", fmt, "-o", str(out), "--db", db]) == 0
    return out


def _filled(prompt_with_placeholders: str, example, task) -> str:
    text = prompt_with_placeholders
    for name in task.inputs:
        text = text.replace("{" + name + "}", example[name])
    return text


def test_formats_are_offered():
    assert set(EXPORTERS.names()) >= {"text", "json", "chat", "jinja", "dspy"}


@pytest.mark.parametrize("layout", ["plain", "chat"])
def test_jinja_renders_the_scored_prompt(searches, tmp_path, smollm, layout):
    db, store, task = searches
    record = store.get_search(layout)
    top = best(store, record)
    template = jinja2.Template(_exported(db, layout, "jinja", tmp_path).read_text(encoding="utf-8"))
    dev = load_split(task, "dev", 3)
    for ex in load_split(task, "test", 3) + dev:
        rendered = template.render(**{name: ex[name] for name in task.inputs})
        assert rendered == _filled(top.candidate.prompt, ex, task)
    assert "{{ not_a_var }}" in rendered and TRIGGER in rendered  # escaped, not evaluated

    if layout == "chat":
        return  # the same text as the stored prompt; re-scoring the plain one below shows that is enough
    # The rendered text is what the model scored: ranking the labels again gives the stored predictions.
    decoding = decoding_key(Decoding(), task)
    stored = store.evaluations.get(smollm.fingerprint, top.candidate.prompt_hash, decoding, [e.id for e in dev])
    assert len(stored) == len(dev)
    requests = [LoglikelihoodRequest(template.render(**{name: ex[name] for name in task.inputs}),
                                     top.candidate.answer_prefix + label) for ex in dev for label in task.labels]
    out = smollm.loglikelihood(requests)  # one call: the backend shares the prompt prefix
    k = len(task.labels)
    for i, ex in enumerate(dev):
        row = out[i * k:(i + 1) * k]
        predicted = task.labels[max(range(k), key=lambda j: row[j].logprob)]
        assert predicted == stored[ex.id].prediction


def test_chat_list_is_valid_openai_messages_and_reproduces_the_chat_prompt(searches, tmp_path, smollm):
    from openai.types.chat import ChatCompletionMessageParam
    from pydantic import TypeAdapter

    db, store, task = searches
    top = best(store, store.get_search("chat"))
    messages = json.loads(_exported(db, "chat", "chat", tmp_path).read_text(encoding="utf-8"))
    TypeAdapter(list[ChatCompletionMessageParam]).validate_python(messages)  # the OpenAI schema
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert all(isinstance(m["content"], str) and set(m) == {"role", "content"} for m in messages)
    assert messages[0]["content"].startswith("Label the review as negative, positive.")
    assert "{review}" in messages[-1]["content"] and "{review}" not in messages[1]["content"]
    assert [m["content"] for m in messages[2:-1:2]] == [d["label"] for d in top.candidate.demos]
    for ex in load_split(task, "test", 3):
        filled = fill_messages(messages, {"review": ex["review"]})
        assert smollm.apply_chat_template(filled) == _filled(top.candidate.prompt, ex, task)


def test_chat_export_of_a_plain_candidate_is_valid_too(searches, tmp_path):
    from openai.types.chat import ChatCompletionMessageParam
    from pydantic import TypeAdapter

    db, _store, _ = searches
    messages = json.loads(_exported(db, "plain", "chat", tmp_path).read_text(encoding="utf-8"))
    TypeAdapter(list[ChatCompletionMessageParam]).validate_python(messages)
    assert messages[-1]["role"] == "user" and messages[-1]["content"].endswith(TRIGGER)


def test_dspy_predict_loads_the_program(searches, tmp_path):
    import dspy

    db, store, task = searches
    record = store.get_search("plain")
    top = best(store, record)
    program = dspy.Predict(signature_string(task))
    assert signature_string(task) == "review -> label"
    program.load(str(_exported(db, "plain", "dspy", tmp_path)))
    expected = dspy_instructions(task, top.candidate)
    assert expected.startswith("Label the review as negative, positive.") and expected.endswith(TRIGGER)
    assert program.signature.instructions == expected
    assert program.demos == top.candidate.demos and len(program.demos) == 2
    assert list(program.signature.input_fields) == ["review"]
    assert list(program.signature.output_fields) == ["label"]
    label = program.signature.output_fields["label"].json_schema_extra
    assert label["prefix"] == "Label:" and label["desc"] == "one of: negative, positive"
    # DSPy's own adapter puts the instruction and every demonstration into the prompt it sends.
    sent = dspy.ChatAdapter().format(program.signature, program.demos, {"review": "fine"})
    text = "\n".join(m["content"] for m in sent)
    assert all(line.strip() in text for line in expected.splitlines())  # DSPy indents the lines
    assert all(d["review"] in text for d in program.demos)


def test_text_and_json_still_export(searches, tmp_path):
    _db, store, _ = searches
    top = best(store, store.get_search("plain"))
    assert render_export(store, store.get_search("plain"), top, "text") == top.candidate.prompt
    exported = json.loads(render_export(store, store.get_search("plain"), top, "json"))
    assert exported["prompt"] == top.candidate.prompt and exported["prompt_hash"] == top.candidate.prompt_hash
