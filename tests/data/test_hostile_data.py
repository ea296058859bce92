"""Data files a hostile user writes (issue 25): odd Unicode, huge fields, broken CSV quoting,
empty values. Each is refused in one line that says what is really wrong, before any tokenizer
or model sees the text."""
from __future__ import annotations

import json
import time
import unicodedata

import pytest

from promptsearch.config import load_task
from promptsearch.config.limits import MAX_FIELD_CHARS
from promptsearch.data.dataset import load_split
from promptsearch.errors import ConfigError


def _dev(tiny_task, name: str, content: str | bytes):
    path = tiny_task.parent / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    tiny_task.write_text(tiny_task.read_text().replace("dev: dev.jsonl", f"dev: {name}"))
    return load_split(load_task(tiny_task), "dev")


def _error(tiny_task, name: str, content: str | bytes) -> str:
    with pytest.raises(ConfigError) as e:
        _dev(tiny_task, name, content)
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.parametrize("line", [
    r'{"review": "bad \ud800 x", "label": "positive"}',  # a lone high surrogate
    r'{"review": "\udfff", "label": "positive"}',  # a lone low one
    r'{"review": "pair reversed \ude00\ud83d", "label": "positive"}',
    r'{"review": "ok", "label": "positive", "extra": ["\ud800"]}',  # in a field the task does not read
    r'{"review\ud800": "ok", "review": "ok", "label": "positive"}',  # in a key
    r'{"review": "ok", "label": "posit\uDBFFive"}',  # upper-case escape, in the output
])
def test_a_lone_surrogate_is_one_line(tiny_task, line):
    message = _error(tiny_task, "dev.jsonl", '{"review": "fine", "label": "positive"}\n' + line + "\n")
    assert "dev.jsonl:2: invalid text: a lone surrogate (\\u" in message


def test_a_surrogate_pair_is_a_character(tiny_task):
    dev = _dev(tiny_task, "dev.jsonl", r'{"review": "smile \ud83d\ude00", "label": "positive"}' + "\n")
    assert dev[0]["review"] == "smile \U0001F600"


@pytest.mark.parametrize("row,message", [
    ({"review": "", "label": "positive"}, "field 'review' is empty; every example needs a value"),
    ({"review": "   \t", "label": "positive"}, "field 'review' holds only whitespace"),
    ({"review": None, "label": "positive"}, "field 'review' is null"),
    ({"review": "ok", "label": ""}, "field 'label' is empty"),
    ({"label": "positive"}, "missing field 'review' (the task reads review, label)"),
    ({"revie\u200bw": "ok", "label": "positive"},
     "missing field 'review' (the task reads review, label); 'review' and 'revie\\u200bw' differ only in "
     "invisible characters (U+200B); delete them"),
])
def test_an_empty_value_is_not_called_missing(tiny_task, row, message):
    assert message in _error(tiny_task, "dev.jsonl", json.dumps(row) + "\n")


@pytest.mark.parametrize("text,line", [
    ('review,label\n"never closed,positive\nfine,negative\n', 2),
    ('review,label\nok,positive\nfine,"negative\n', 3),
    ('review,label\n"a\nb",positive\n"c,negative\n', 4),
])
def test_an_unterminated_csv_quote_is_said_as_such(tiny_task, text, line):
    message = _error(tiny_task, "dev.csv", text)
    assert f"dev.csv:{line}: a quoted field in the record that starts here is never closed" in message
    assert "fields, but the header" not in message


def test_a_wrong_field_count_is_still_a_field_count(tiny_task):
    assert "dev.csv:2: 3 fields, but the header has 2" in _error(tiny_task, "dev.csv", "review,label\na,b,c\n")


@pytest.mark.parametrize("form", ["NFD", "NFKD"])
def test_labels_that_differ_in_normalization_are_explained(tiny_task, form):
    label = "café"
    tiny_task.write_text(tiny_task.read_text().replace("[negative, positive]", f"[negative, {label}]"))
    other = unicodedata.normalize(form, label)
    message = _error(tiny_task, "dev.jsonl", json.dumps({"review": "x", "label": other}, ensure_ascii=False) + "\n")
    assert "differ only in Unicode normalization (NFD vs NFC); save both in the same form (NFC)" in message


def test_labels_that_differ_in_invisible_characters_or_case_are_explained(tiny_task):
    message = _error(tiny_task, "dev.jsonl", json.dumps({"review": "x", "label": "posi\u200dtive"}) + "\n")
    assert "differ only in invisible characters (U+200D)" in message
    message = _error(tiny_task, "dev.jsonl", json.dumps({"review": "x", "label": "Positive"}) + "\n")
    assert "'Positive' and 'positive' differ only in case" in message


def test_rtl_and_zero_width_text_in_inputs_is_data(tiny_task):
    review = "\u202eevitisop\u202c \u05e9\u05dc\u05d5\u05dd zero\u200bwidth"
    dev = _dev(tiny_task, "dev.jsonl", json.dumps({"review": review, "label": "positive"}) + "\n")
    assert dev[0]["review"] == review


def test_a_huge_field_is_refused_by_its_characters_at_once(tiny_task):
    big = "great " * (MAX_FIELD_CHARS // 6 + 10)  # just over the limit
    start = time.monotonic()
    message = _error(tiny_task, "dev.jsonl", json.dumps({"review": big, "label": "positive"}) + "\n")
    assert time.monotonic() - start < 5  # read and counted, never tokenized
    assert f"dev.jsonl:1: field 'review' is {len(big):,} characters; at most {MAX_FIELD_CHARS:,} per field" in message


def test_a_field_at_the_limit_is_accepted(tiny_task):
    fits = "x" * MAX_FIELD_CHARS
    assert _dev(tiny_task, "dev.jsonl", json.dumps({"review": fits, "label": "positive"}) + "\n")[0]["review"] == fits
