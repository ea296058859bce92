"""The prompt format (render/format.py, config/formats.py): the default renders exactly today's
prompt, each dimension changes what it says and nothing else, and the block is parsed strictly."""
import json
from pathlib import Path

import pytest

from promptsearch.config import load_space, load_task
from promptsearch.config.formats import FormatSpec, check_format_names
from promptsearch.data.dataset import Example
from promptsearch.errors import ConfigError
from promptsearch.render.format import PromptFormat
from promptsearch.render.prompt import Candidate, chat_messages, render_template
from promptsearch.strategies import DIRECT, STRATEGIES

ROOT = Path(__file__).resolve().parents[2]
TASK = load_task(ROOT / "examples" / "review_sentiment.yaml")
DEMOS = (Example("a", {"review": "Great.", "label": "positive"}), Example("b", {"review": "Bad.", "label": "negative"}))

# What promptsearch rendered before formats existed (copied from the output of main at 8f0fa26).
TODAY = ("Classify.\n\nReview: Great.\nLabel: positive\n\nReview: Bad.\nLabel: negative\n\n"
         "Review: \ue000review\ue001\nLabel:")


def _render(fmt=None, strategy=DIRECT, trigger=None):
    kw = {"format": fmt} if fmt is not None else {}
    return render_template(Candidate(instruction="Classify.", demos=DEMOS, cot_trigger=trigger, strategy=strategy,
                                     **kw), TASK)


def test_default_format_is_todays_prompt_byte_for_byte():
    for template in (_render(), _render(PromptFormat()), _render(PromptFormat.from_params({"n_demos": 2}))):
        assert template.text == TODAY and template.answer_prefix == " "
    assert _render().hash == _render(PromptFormat()).hash == "43d22752f0927ec68a7f588aec1018e6"  # as on main
    cot = _render(strategy=STRATEGIES.get("zero_shot_cot")(), trigger="Think.")
    assert cot.hash == "7dd76897904b3ad13cbf16f529b7aa6b"


def test_each_dimension_changes_its_part():
    t = _render(PromptFormat(names="generic", separator=" - ", casing="upper", spacing="###", answer=None))
    assert t.text == ("Classify.\n\nINPUT - Great.\nOUTPUT - positive\n\n###\n\nINPUT - Bad.\nOUTPUT - negative"
                      "\n\n###\n\nINPUT - \ue000review\ue001\nOUTPUT -")
    assert t.answer_prefix == " " and t.hash != _render().hash
    newline = _render(PromptFormat(separator=":\n", answer="Answer", casing="lower", spacing="---"))
    assert newline.text.endswith("review:\n\ue000review\ue001\nanswer:\n") and newline.answer_prefix == ""
    assert "answer:\npositive\n\n---\n\nreview:\nBad." in newline.text
    named = _render(PromptFormat(names="task", custom=(("review", "Customer review"), ("label", "Sentiment"))))
    assert "Customer review: Great.\nSentiment: positive" in named.text


def test_reasoning_layout_keeps_its_opening_after_the_formatted_answer_line():
    cot = STRATEGIES.get("zero_shot_cot")()
    default = _render(strategy=cot, trigger="Think.")
    assert default.text.endswith("Answer: Think.") and default.answer_prefix == " "
    fmt = _render(PromptFormat(separator=":\n", casing="upper"), strategy=cot, trigger="Think.")
    assert fmt.text.endswith("REVIEW:\n\ue000review\ue001\nANSWER:\nThink.") and fmt.answer_prefix == " "


def test_chat_messages_use_the_format():
    messages = chat_messages(Candidate(instruction="Classify.", demos=DEMOS, strategy=DIRECT, template="chat",
                                       format=PromptFormat(names="generic", separator=" - ")), TASK)
    assert messages[1]["content"] == "Input - Great." and messages[-1]["content"] == "Input - {review}"


def _space(tmp_path, formats) -> Path:
    p = tmp_path / "space.yaml"
    p.write_text(json.dumps({"instructions": ["x"], "formats": formats}))
    return p


def test_formats_block_round_trips(tmp_path):
    space = load_space(_space(tmp_path, {"separators": [": ", ":\n"], "casing": ["as_is", "upper"],
                                         "answer_prefixes": [None, "Answer"]}))
    spec = FormatSpec.from_dict(space.formats)
    assert spec.separators == (": ", ":\n") and spec.answer_prefixes == (None, "Answer")
    assert spec.field_names == ("data",) and spec.spacing == ("blank",)
    assert load_space(ROOT / "search_spaces" / "default.yaml").formats is None


@pytest.mark.parametrize("formats, message", [
    ({"casing": ["shouting"]}, "field 'formats.casing[0]' is 'shouting'; allowed: as_is, title, upper, lower"),
    ({"field_names": ["task"]}, "field 'formats.names' is needed when field_names lists 'task'"),
    ({"separators": [": ", ": "]}, "field 'formats.separators' lists a value twice"),
    ({"separators": ["  "]}, "field 'formats.separators[0]' must contain a visible character"),
    ({"spacing": ["tab"]}, "field 'formats.spacing[0]' is 'tab'; allowed: blank, line, ###, ---"),
    ({"answer_prefixes": ["A\nB"]}, "field 'formats.answer_prefixes[0]' must be a one-line name"),
    ({"names": {"review": 3}}, "field 'formats.names.review' must be a one-line name"),
    ({"colours": ["red"]}, "unknown field 'formats.colours'"),
])
def test_bad_formats_blocks_are_one_line_errors(tmp_path, formats, message):
    with pytest.raises(ConfigError) as e:
        load_space(_space(tmp_path, formats))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_names_must_be_task_fields():
    spec = FormatSpec(field_names=("task",), names={"reveiw": "Review"})
    with pytest.raises(ConfigError, match=r"field 'formats.names.reveiw' is not a field of the task; the task's "
                                          "fields are review, label"):
        check_format_names(spec, ("review", "label"), "space.yaml")
