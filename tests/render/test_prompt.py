from promptsearch.config import load_task
from promptsearch.data.dataset import Example, load_split
from promptsearch.render import Candidate, Prompt, render, select_demos
from promptsearch.render.prompt import chat_messages, display_name
from promptsearch.strategies import DIRECT


def _ex(review, label):
    return Example(id=review, fields={"review": review, "label": label})


def test_plain_layout_exact_text(tiny_task):
    task = load_task(tiny_task)
    demos = (_ex("nice {braces}", "positive"),)
    c = Candidate(instruction="Pick one of {labels}.", demos=demos, cot_trigger="Let's think step by step.",
                  template="plain", strategy=DIRECT)
    p = render(c, task)
    assert isinstance(p, Prompt)
    assert p.with_placeholders() == (
        "Pick one of negative, positive.\n\n"
        "Review: nice {braces}\nLet's think step by step.\nLabel: positive\n\n"
        "Review: {review}\nLet's think step by step.\nLabel:")
    assert p.answer_prefix == " "
    filled = p.fill(_ex("a {review} with $1 and \\n", "negative"))
    assert filled.endswith("Review: a {review} with $1 and \\n\nLet's think step by step.\nLabel:")


def test_empty_instruction_and_no_demos(tiny_task):
    p = render(Candidate(instruction="", demos=(), cot_trigger=None, template="plain", strategy=DIRECT),
               load_task(tiny_task))
    assert p.with_placeholders() == "Review: {review}\nLabel:"


def test_chat_layout_uses_the_model_template(tiny_task, fake_lm):
    task = load_task(tiny_task)
    c = Candidate(instruction="Classify.", demos=(_ex("good", "positive"),), cot_trigger=None, template="chat",
                  strategy=DIRECT)
    p = render(c, task, fake_lm.apply_chat_template)
    assert p.with_placeholders() == ("<system>Classify.</system>\n<user>Review: good</user>\n"
                                     "<assistant>positive</assistant>\n<user>Review: {review}</user>\n<assistant>")
    assert p.answer_prefix == ""
    assert chat_messages(c, task)[-1] == {"role": "user", "content": "Review: {review}"}


def test_hash_depends_on_text_only(tiny_task):
    task = load_task(tiny_task)
    a = render(Candidate(instruction="A", demos=(), cot_trigger=None, template="plain", params={"x": 1},
                         strategy=DIRECT), task)
    b = render(Candidate(instruction="A", demos=(), cot_trigger=None, template="plain", params={"x": 2},
                         strategy=DIRECT), task)
    c = render(Candidate(instruction="B", demos=(), cot_trigger=None, template="plain", strategy=DIRECT), task)
    assert a.hash == b.hash != c.hash


def test_display_name():
    assert display_name("review_text") == "Review text"


def test_select_demos_deterministic_and_stratified(tiny_task):
    task = load_task(tiny_task)
    pool = load_split(task, "train")
    a = select_demos(pool, 4, "random", 0, 0, "label")
    assert a == select_demos(pool, 4, "random", 0, 0, "label")
    assert a != select_demos(pool, 4, "random", 1, 0, "label")
    s = select_demos(pool, 4, "stratified", 0, 0, "label")
    assert sorted(d["label"] for d in s) == ["negative", "negative", "positive", "positive"]
    assert select_demos(pool, 0, "random", 0, 0, "label") == []
    assert len(select_demos(pool, 50, "stratified", 0, 0, "label")) == len(pool)
