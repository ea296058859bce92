"""Answer extraction on hand-written model outputs, and majority voting."""
import pytest

from promptsearch.strategies.extract import extract_answer, numbers, vote

LABELS = ["entailment", "not_entailment"]


@pytest.mark.parametrize("text,answer", [
    ("She pays 3 * $4 = $12, so she has $1,250 left.", "1250"),
    ("The temperature fell to -7 degrees overnight.", "-7"),
    ("The loss was -$1,234.50 this quarter.", "-1234.5"),
    ("16 - 3 - 4 = 9 eggs, sold at $2 each: 9 * 2 = 18", "18"),
    ("It costs $18.00.", "18"),
    ("About 12,500 people; 3.5 times more than before, i.e. 0.75 of them", "0.75"),
    ("Each box holds 1,2,3 or 4 toys", "4"),
    ("the temperature is \u22125 now", "-5"),
    ("He walked 5km and then 10 km.", "10"),
    ("No numbers here.", ""),
])
def test_last_number(text, answer):
    assert extract_answer(text, "number") == answer


def test_first_number_after_the_answer_trigger():
    assert extract_answer(" 18 dollars. She sold 16 - 3 - 4 = 9", "number", first=True) == "18"


def test_minus_between_numbers_is_not_a_sign():
    assert numbers("10-4=6 and 7 - 2") == ["10", "4", "6", "7", "2"]


@pytest.mark.parametrize("text,answer", [
    ("I think the answer is not_entailment, since entailment fails.", "not_entailment"),
    ("Entailment. The premise says so.", "entailment"),
    ("It is clearly ENTAILMENT", "entailment"),
    ("no label at all", ""),
])
def test_first_label_mentioned(text, answer):
    assert extract_answer(text, "label", LABELS) == answer


def test_labels_match_whole_words_only():
    assert extract_answer("Yesterday it was No", "label", ["Yes", "No"]) == "No"
    assert extract_answer("the answer (True or False) is False", "label", ["True", "False"]) == "True"


def test_free_text_first_line():
    assert extract_answer("\n  Kuala Lumpur.\nBecause the sentence says so.", "text") == "Kuala Lumpur"
    assert extract_answer(":\nHanoi.", "text") == "Hanoi"  # "the answer is:" then the answer
    assert extract_answer(": Kuala Lumpur", "text") == "Kuala Lumpur"
    assert extract_answer("", "text") == "" and extract_answer(":\n", "text") == ""


def test_majority_vote():
    assert vote(["18", "18", "20"], [-9.0, -8.0, -1.0]) == "18"
    assert vote(["", "", "7"], [0.0, 0.0, -3.0]) == "7"  # paths without an answer do not vote
    assert vote(["", ""], [0.0, 0.0]) == ""


def test_tie_broken_by_summed_logprob():
    assert vote(["5", "6", "6", "5"], [-1.0, -2.0, -2.5, -1.5]) == "5"  # -2.5 beats -4.5
    assert vote(["Paris.", "paris", "Rome", "Rome"], [-3.0, -3.0, -1.0, -1.0]) == "Rome"  # -2 beats -6
    assert vote(["Paris.", "paris", "Rome"], [-3.0, -3.0, -1.0]) == "Paris."  # equal after normalising: 2 votes
