"""A small real search for the after-the-search tests (show --examples, compare, run, check,
report): the review task's train and test data, and a dev set of 5 reviews, one of them with
rich markup and HTML in its text, one labelled against its words (so a prompt loses a point)."""
import json
from pathlib import Path

from psdata import write_jsonl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "review_sentiment"
MARKUP = "The [bold red]soup[/bold red] was <b>cold</b> and the waiter was rude."
DEV = [{"review": MARKUP, "label": "negative"},
       {"review": "Wonderful stay, spotless room and the staff could not have been kinder.", "label": "positive"},
       {"review": "Absolutely loved it, best pizza in town.", "label": "negative"},
       {"review": "Terrible service; we waited an hour and left hungry.", "label": "negative"},
       {"review": "Quick, friendly and fairly priced. Will come back.", "label": "positive"}]
SPACE = """name: small
instructions: ["Classify the {inputs}. Answer with one of: {labels}.", "Is the {inputs} {labels}?", ""]
demos: {counts: [0, 1], selection: [random]}
cot_triggers: [null]
templates: [plain, chat]
"""


def write_task(folder: Path, name: str = "after") -> Path:
    """The task YAML (and its dev file) in `folder`; train and test are the example's files."""
    write_jsonl(folder / "dev.jsonl", DEV)
    task = folder / "task.yaml"
    task.write_text(f"name: {name}\ntrain: {DATA / 'train.jsonl'}\ndev: dev.jsonl\ntest: {DATA / 'test.jsonl'}\n"
                    "inputs: [review]\noutput: label\nmetric: accuracy\nlabels: [negative, positive]\n")
    (folder / "space.yaml").write_text(SPACE)
    return task


def real_search(folder: Path, lm, trials: int = 4, name: str = "after", **settings):
    """(db url, store, record) of a real search on the embedded model."""
    from promptsearch.config import load_space, load_task
    from promptsearch.search import SearchSettings, new_search, run_trials
    from promptsearch.storage import Store

    task = write_task(folder, name)
    db = f"sqlite:///{folder}/after.db"
    store = Store(db)
    record = new_search(store, name, load_task(task), load_space(folder / "space.yaml"), "smollm2",
                           SearchSettings(seed=2, **settings))
    run_trials(store, record, lm, trials)
    return db, store, record


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
