"""The metric of contact_json.yaml: is the answer a JSON object with the right name and city?

promptsearch calls score_contact(example, prediction) for each scored example: `example` holds
the task's fields (here `sentence` and `record`, the gold JSON), `prediction` the model's answer.
"""
import json

KEYS = ("name", "city")


def score_contact(example: dict, prediction: str):
    """1.0 for both keys right, 0.5 for one, 0.0 otherwise; the feedback says what was wrong."""
    gold = json.loads(example["record"])
    try:
        got = json.loads(prediction)
    except json.JSONDecodeError:
        return 0.0, "not valid JSON"
    if not isinstance(got, dict):
        return 0.0, f"JSON {type(got).__name__}, not an object"
    wrong = [k for k in KEYS if got.get(k) != gold[k]]
    if not wrong:
        return 1.0
    return (len(KEYS) - len(wrong)) / len(KEYS), "wrong or missing: " + ", ".join(wrong)
