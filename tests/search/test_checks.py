"""The checks that run before a search is created or continued (search/checks.py)."""
import json

import pytest
from psdata import write_jsonl

from promptsearch.config import load_space, load_task
from promptsearch.errors import ConfigError, UserError
from promptsearch.lm.base import LM
from promptsearch.search import SearchSettings, new_search
from promptsearch.search.checks import check_prompt_fits, check_unchanged, label_warnings, longest_prompt, rerun_command
from promptsearch.storage import Store


class TokenLM(LM):
    """A scripted tokenizer (one id per character unless `ids` says otherwise; tokens counted as
    words) with a context of `max_length`; it never runs."""

    name = "token-lm"

    def __init__(self, ids=None, max_length=2048):
        self.ids, self._max = ids or {}, max_length

    def loglikelihood(self, requests):
        raise AssertionError("not run by the checks")

    generate = loglikelihood

    def apply_chat_template(self, messages):
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>\n" for m in messages) + "<assistant>"

    @property
    def max_length(self):
        return self._max

    def continuation_ids(self, context, continuation):
        word = continuation.strip()
        return self.ids.get(word, [ord(c) for c in word])


def _labels(tiny_task, labels):
    from dataclasses import replace
    return replace(load_task(tiny_task), labels=tuple(labels))


def test_a_label_that_is_a_token_prefix_of_another(tiny_task):
    warnings = label_warnings(_labels(tiny_task, ["1", "10", "2"]), TokenLM())
    assert warnings == ["label '1' is a token prefix of '10': under summed log-probability '10' can never win; "
                        "pass --label-scoring mean to rank labels by mean token log-probability"]
    assert label_warnings(_labels(tiny_task, ["1", "10"]), TokenLM(), "mean") == []  # already fair


def test_labels_with_the_same_token_ids(tiny_task):
    lm = TokenLM({"yes": [5], "Yes": [5]})
    [warning] = label_warnings(_labels(tiny_task, ["yes", "Yes", "no"]), lm)
    assert warning.startswith("labels 'yes' and 'Yes' tokenize to the same ids [5]")
    assert "--label-scoring mean" in warning


def test_distinct_labels_and_backends_without_a_tokenizer_say_nothing(tiny_task, fake_lm):
    assert label_warnings(_labels(tiny_task, ["negative", "positive"]), TokenLM()) == []
    assert label_warnings(_labels(tiny_task, ["1", "10"]), fake_lm) == []  # it cannot say how it tokenizes


def test_max_new_tokens_must_leave_room(tiny_task, tiny_space):
    task, space = load_task(tiny_task), load_space(tiny_space)
    with pytest.raises(ConfigError, match=r"^--max-new-tokens: 2048 is not below the model's context of 2048 tokens"):
        check_prompt_fits(task, space, TokenLM(), SearchSettings(max_new_tokens=2048))
    check_prompt_fits(task, space, TokenLM(), SearchSettings(max_new_tokens=32))


def test_the_longest_prompt_counts_instruction_demos_and_input(tiny_task, tiny_space):
    """The fake LM counts words: the longest prompt holds the 2 longest train reviews and the
    longest dev/test review; a context just below it is refused with the numbers."""
    task, space = load_task(tiny_task), load_space(tiny_space)
    rows = [{"review": "word " * n, "label": "positive"} for n in (5, 50, 40, 3)]
    write_jsonl(tiny_task.parent / "train.jsonl", rows)
    write_jsonl(tiny_task.parent / "test.jsonl", [{"review": "long " * 70, "label": "negative"}])
    tokens, parts = longest_prompt(task, space, TokenLM())
    assert tokens > 50 + 40 + 70 and "2 demos" in parts
    with pytest.raises(ConfigError) as e:
        check_prompt_fits(task, space, TokenLM(max_length=tokens), SearchSettings())
    assert f"{tokens} prompt tokens" in str(e.value) and f"= {tokens + 1} > {tokens} tokens" in str(e.value)
    check_prompt_fits(task, space, TokenLM(max_length=tokens + 1), SearchSettings())


def test_changed_data_is_refused_with_a_command_for_a_new_search(tmp_path, tiny_task, tiny_space):
    store = Store(f"sqlite:///{tmp_path}/c.db")
    rec = new_search(store, "s", load_task(tiny_task), load_space(tiny_space), "smollm2",
                        SearchSettings(seed=3, dev_limit=4, label_scoring="mean"))
    assert set(rec.task["fingerprints"]) == {"train", "dev", "test"}
    check_unchanged(rec)
    dev = tiny_task.parent / "dev.jsonl"
    dev.write_text(dev.read_text() + json.dumps({"review": "new", "label": "positive"}) + "\n")
    with pytest.raises(UserError) as e:
        check_unchanged(rec)
    message = str(e.value)
    assert message.startswith(f"{dev.resolve()}: the dev file of search 's' has changed since the search was created")
    assert message.endswith(f"start a new search with the same settings: {rerun_command(rec)}")
    assert rerun_command(rec) == (f"promptsearch optimize {tiny_task} --space {tiny_space} --model smollm2 "
                                  f"--seed 3 --dev-limit 4 --label-scoring mean --name s-2")
    dev.unlink()
    with pytest.raises(UserError, match="the dev file of search 's' no longer exists"):
        check_unchanged(rec)


def test_a_search_stored_without_fingerprints_still_continues(tmp_path, tiny_task, tiny_space):
    store = Store(f"sqlite:///{tmp_path}/c.db")
    rec = new_search(store, "old", load_task(tiny_task), load_space(tiny_space), "smollm2", SearchSettings())
    from dataclasses import replace
    old = replace(rec, task={k: v for k, v in rec.task.items() if k != "fingerprints"})
    (tiny_task.parent / "dev.jsonl").write_text(json.dumps({"review": "x", "label": "positive"}) + "\n")
    check_unchanged(old)  # nothing to compare: no error
