import pytest

from promptsearch.data.metrics import contains, exact_match, last_number, normalize, numeric


def test_normalize():
    assert normalize("  Hello,   World! ") == "hello,   world".replace("   ", " ")
    assert normalize('"Paris."') == "paris"


@pytest.mark.parametrize("pred,gold,score", [
    ("Paris", "paris", 1.0), (" Paris. ", "Paris", 1.0), ("New  York", "new york", 1.0),
    ("Paris, France", "Paris", 0.0), ("", "Paris", 0.0),
])
def test_exact_match(pred, gold, score):
    assert exact_match(pred, gold) == score


def test_contains():
    assert contains("The city is Paris, I think", "paris") == 1.0
    assert contains("Lyon", "Paris") == 0.0


@pytest.mark.parametrize("text,value", [
    ("The answer is 1,234.", 1234.0), ("-7 then 12", 12.0), ("it costs $3.50", 3.5),
    ("x = -4", -4.0), ("no digits", None),
])
def test_last_number(text, value):
    assert last_number(text) == value


def test_numeric():
    assert numeric("so the total is 1,200 apples", "1200") == 1.0
    assert numeric("42.0", "42") == 1.0
    assert numeric("41", "42") == 0.0
    assert numeric("none", "42") == 0.0
