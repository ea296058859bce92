import pytest

from promptsearch.propose.clean import clean, key, rejection


@pytest.mark.parametrize("raw,cleaned", [
    (' classify the sentiment of the review', "Classify the sentiment of the review."),
    ('Instruction: "Label the review as positive or negative."', "Label the review as positive or negative."),
    ("1. New instruction: 'Decide if the text is happy.'\nMore text", "Decide if the text is happy."),
    ("  “Read carefully and answer.”  ", "Read carefully and answer."),
    ("Output: write the city\n\nsecond paragraph", "Write the city."),
    ("", ""),
    ("  \n ", ""),
])
def test_clean(raw, cleaned):
    assert clean(raw) == cleaned


def test_key_ignores_case_space_punctuation():
    assert key("Classify the  review!") == key("classify the review")


def test_rejections():
    seen = ["Classify the review."]
    examples = ["The food was cold and the waiter was rude to us", "negative"]
    assert rejection("", seen=seen, examples=examples, max_words=10) == "empty"
    assert rejection("classify THE review", seen=seen, examples=examples, max_words=10) == "duplicate"
    assert rejection(" ".join(["word"] * 11), seen=seen, examples=examples, max_words=10).startswith("over-long")
    assert rejection("Negative.", seen=seen, examples=examples, max_words=10) == "copies an example"
    assert rejection("Say: the food was cold and the waiter was rude to us.", seen=seen, examples=examples,
                     max_words=20) == "copies an example"
    assert rejection("Decide whether the review is positive.", seen=seen, examples=examples, max_words=10) is None
