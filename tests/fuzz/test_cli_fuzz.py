"""A property-based fuzzer of the real CLI (issue 12): Hypothesis writes task files, search spaces,
data rows and command lines, valid and broken, and runs `promptsearch` in-process on a scripted
fake LM (through the service layer's one model loader). For every case:

  - the exit code is 0 or 2, and nothing escapes main() (no traceback, no hang);
  - after exit 2, stderr is one line starting with "error:", and the database file is byte-identical
    (or still absent);
  - read-only commands (list, show, export, report) never change the database.

CI runs a fixed, derandomized budget (FUZZ_EXAMPLES, about a minute on 2 cores); failures found
while building it are replayed as @example cases. For a longer hunt:
    PROMPTSEARCH_FUZZ_EXAMPLES=2000 PROMPTSEARCH_FUZZ_RANDOM=1 pytest tests/fuzz -q
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import traceback
import unicodedata
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from promptsearch.cli.main import main

FUZZ_EXAMPLES = int(os.environ.get("PROMPTSEARCH_FUZZ_EXAMPLES", "150"))
RANDOM = bool(os.environ.get("PROMPTSEARCH_FUZZ_RANDOM"))
READ_ONLY = {"list", "show", "export", "report"}
LABELS = ["negative", "positive"]

# --- values -------------------------------------------------------------------------------------

TRICKY_TEXT = ["[/INST]", "rs[/x]", "[bold]x", ":smile:", "a\u2028b", "tab\there", "new\nline", "\x00", "é日本",
               "\ufeffbom", "x" * 300, "-", "..", "a/b", " ", "", "{review}", "{labels}", "\\", "[link=file:///]"]
text = st.one_of(st.sampled_from(TRICKY_TEXT), st.text(max_size=20))
name_text = st.one_of(st.sampled_from(["ok", "my-search", "s.1", "_x", "rs[/x]", "[/INST]", "a b", "-x", "x" * 120,
                                       "日本", "a/b", ""]), st.text(max_size=12))
BAD_INTS = ["0", "-1", "4294967296", "99999999999999999999", "1e3", "x", "", "0x10", "1" * 5000]
GOOD_INTS = ["1", "2", "3", " 2", "٣", "+1"]  # int() takes " 2", "٣" (Arabic 3), "+1"


def weighted(good: list[str], bad: list[str]):
    """Mostly good values: a case with every flag broken only ever tests argparse."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad))


int_flag = weighted(GOOD_INTS, BAD_INTS)
small_trials = weighted(["1", "2"], ["0", "-1", "1000001", "99999999999999999999", "many"])
yaml_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text, st.lists(st.integers(), max_size=3))


def review_value():
    return st.one_of(text.filter(lambda s: s.strip()), st.sampled_from(TRICKY_TEXT), st.integers(), st.floats(),
                     st.booleans(), st.none(), st.lists(st.text(max_size=3), max_size=2),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))


@st.composite
def rows(draw, ok: bool):
    """Dev rows; when `ok`, valid ones whose text may be odd (markup, line separators, numbers)."""
    n = draw(st.integers(1, 4) if ok else weighted([2, 3, 4], [0, 1]))
    out = []
    for i in range(n):
        if ok:
            review = draw(st.one_of(st.sampled_from(TRICKY_TEXT), text, st.integers(), st.just(f"item {i} was great"))
                          .filter(lambda v: not isinstance(v, str) or v.strip()))
            out.append({"review": review, "label": LABELS[i % 2]})
            continue
        row = {}
        if draw(st.integers(0, 9)):
            row["review"] = draw(review_value()) if draw(st.integers(0, 2)) == 0 else f"item {i} was great"
        if draw(st.integers(0, 9)):
            row["label"] = draw(st.sampled_from(["neutral", "", "Positive"])) if draw(
                st.integers(0, 4)) == 0 else LABELS[i % 2]
        out.append(row)
    return out


def write_rows(path: Path, data: list[dict], fmt: str, junk: bytes | None) -> Path:
    path = path.with_suffix(f".{fmt}")
    if junk is not None:
        path.write_bytes(junk)
        return path
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data), encoding="utf-8")
    else:
        import csv
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["review", "label"])
            for r in data:
                w.writerow([r.get("review", ""), r.get("label", "")])
    return path


JUNK = st.one_of(*[st.none()] * 12, st.binary(max_size=40),
                 st.sampled_from([b"\xff\xfe{", b'{"review": "x", "review": "y", "label": "positive"}\n',
                                  b'{"review": ' + b"[" * 3000 + b"]" * 3000 + b', "label": "positive"}\n',
                                  b'review,label\n"multi\nline",positive\nx,y,z\n',
                                  b'\xef\xbb\xbfreview,label\nok,positive\n']))


@st.composite
def task_doc(draw, ok: bool):
    """A task file: valid (with odd text in it) when `ok`; else fields sometimes broken, or raw text."""
    raw = None if ok else draw(st.sampled_from([None] * 30 + ["- a\n- b\n", "name: [\n", "a: &a [1, *a]\n",
                                                              "name: x\nname: y\n",
                                             "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else '1'] * 9)}]\n"
                                                     for i in range(8))]))
    if raw is not None:
        return raw
    doc = {"name": draw(st.sampled_from(["tiny", "t.1", "日本"])) if ok else draw(name_text),
           "train": "train.jsonl", "dev": "DEV", "test": "test.jsonl",
           "inputs": ["review"], "output": "label", "metric": "accuracy", "labels": list(LABELS)}
    for key in list(doc):
        if not ok and draw(st.integers(0, 8)) == 0:
            if draw(st.booleans()):
                del doc[key]
            else:
                doc[key] = draw(yaml_scalar)
    if draw(st.integers(0, 6)) == 0:
        doc.pop("labels", None)
        doc["metric"] = draw(st.sampled_from(["exact_match", "contains", "numeric"] + ([] if ok else ["f1"])))
    if not ok and draw(st.integers(0, 10)) == 0:
        doc[draw(st.sampled_from(["lables", "extra", "1"]))] = 1
    return doc


@st.composite
def space_doc(draw, ok: bool):
    raw = None if ok else draw(st.sampled_from([None] * 30 + ["instructions: [x]\nseed: 1\nseed: 2\n",
                                                              "instructions: &i [x, *i]\n",
                                             "instructions: " + "[" * 2000 + "]" * 2000 + "\n", "\t:\n", ""]))
    if raw is not None:
        return raw
    doc = {"name": draw(text), "instructions": draw(st.lists(text, min_size=1, max_size=3)),
           "demos": {"counts": draw(st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True)),
                     "selection": draw(st.lists(st.sampled_from(["random", "stratified"]), min_size=1, max_size=2,
                                                unique=True)),
                     "draws": draw(st.sampled_from([1, 2]) if ok else weighted([1, 2], [0, 101, 10**30]))},
           "cot_triggers": draw(st.lists(st.one_of(st.none(), text.filter(str.strip) if ok else text), min_size=1,
                                         max_size=2, unique=True)),
           "templates": draw(st.lists(st.sampled_from(["plain", "chat"]), min_size=1, max_size=2, unique=True)),
           "seed": draw(st.sampled_from([0, 1, 2**32 - 1]) if ok else weighted([0, 1], [-1, 2**32, 10**40, "x"]))}
    if ok:
        doc["instructions"] = list(dict.fromkeys(doc["instructions"]))
        return doc
    if draw(st.integers(0, 5)) == 0:
        doc["demos"]["counts"] = draw(st.lists(st.sampled_from([-1, 2**32, 100, True, "2"]), min_size=1, max_size=2))
    if draw(st.integers(0, 5)) == 0:
        doc["templates"].append(draw(text))
    for key in list(doc):
        if draw(st.integers(0, 8)) == 0:
            doc[key] = draw(yaml_scalar)
    if draw(st.integers(0, 6)) == 0:  # an alias bomb where an error message would quote it
        key = draw(st.sampled_from(["templates", "instructions", "seed", "cot_triggers"]))
        return dump({k: v for k, v in doc.items() if k != key}) + BOMB + f"{key}: *l7\n"
    return doc


BOMB = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 9)}]\n" for i in range(8))


def dump(doc) -> str:
    if isinstance(doc, str):
        return doc
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    # PyYAML writes U+0085 raw, then reads it as a line break: escape what does not round-trip
    return text if yaml.safe_load(text) == doc else yaml.safe_dump(doc, allow_unicode=False, sort_keys=False)


# --- command lines ----------------------------------------------------------------------------

SEARCH = weighted(["done"], ["empty", "nope", "rs[/x]", ""])


@st.composite
def command(draw, ok: bool):
    kind = draw(st.sampled_from(["optimize"] * 5 + ["resume", "worker", "eval", "show", "list", "export", "report"]))
    argv: list[str] = []
    if kind == "optimize":
        argv = ["optimize", "TASK", "--space", "SPACE"]
        if draw(st.booleans()):
            argv += ["--name", draw(st.sampled_from(["new", "n.2"]) if ok else name_text)]
        argv += ["--trials", draw(st.sampled_from(["1", "2"]) if ok else small_trials)]
        if ok and draw(st.integers(0, 5)) == 0:
            argv += ["--pruner", draw(st.sampled_from(["wilcoxon", "halving"])), "--chunk-size", "1"]
        for flag in ("--seed", "--dev-limit", "--batch-size", "--chunk-size", "--max-new-tokens"):
            if draw(st.integers(0, 3)) == 0:
                good = GOOD_INTS + (["0", "4294967295"] if flag == "--seed" else [])
                argv += [flag, draw(st.sampled_from(good) if ok else weighted(good, BAD_INTS))]
        if not ok and draw(st.integers(0, 4)) == 0:
            argv += ["--workers", draw(st.sampled_from(["0", "-1", "257", "x"]))]
        if not ok and draw(st.integers(0, 4)) == 0:
            argv += ["--pruner", draw(st.sampled_from(["wilcoxon", "halving", "none", "bad"]))]
        if draw(st.integers(0, 4)) == 0:
            argv += ["--sampler", draw(st.sampled_from(["random", "tpe"] if ok else ["random", "tpe", "grid"]))]
        if not ok and draw(st.integers(0, 5)) == 0:  # models that do not load (no process loads a real one)
            argv += ["--model", draw(st.sampled_from(["MODELDIR", "missing-model", "x.gguf", "FAKEGGUF"]))]
            if draw(st.booleans()):
                argv += ["--workers", "2"]
    elif kind == "resume":
        argv = ["resume", draw(SEARCH), "--trials", draw(small_trials)]
    elif kind == "worker":
        argv = ["worker", draw(SEARCH)]
        if draw(st.booleans()):
            argv += ["--trials", draw(small_trials)]
        if draw(st.integers(0, 3)) == 0:
            argv += [draw(st.sampled_from(["--heartbeat", "--grace"])), draw(int_flag)]
    elif kind == "eval":
        argv = ["eval", draw(SEARCH)]
        for flag in ("--limit", "--seed", "--resamples"):
            if draw(st.integers(0, 2)) == 0:
                argv += [flag, draw(weighted(["1", "3"], ["-1", "0", "100001", "99999999999999999999", "x"]))]
        if draw(st.integers(0, 3)) == 0:
            argv += ["--split", draw(st.sampled_from(["dev", "train", "test"]))]
        if draw(st.integers(0, 4)) == 0:
            argv += ["--baseline", draw(st.sampled_from(["first", "BASELINE", "missing.json"]))]
    elif kind in ("show", "export", "report"):
        argv = [kind, draw(SEARCH)]
        if kind == "show" and draw(st.booleans()):
            argv += ["--top", draw(int_flag)]
        if kind == "export" and draw(st.booleans()):
            argv += ["--format", draw(st.sampled_from(["text", "json", "chat", "jinja", "dspy", "xml"]))]
        if kind in ("export", "report") and draw(st.booleans()):
            argv += ["-o", draw(st.sampled_from(["OUT", "LINK", "EXISTING", "NOFOLDER", "FOLDER"]))]
            if draw(st.booleans()):
                argv.append("--force")
    else:
        argv = ["list"]
    return argv


THEN = st.sampled_from([["list"], ["show", "NAME"], ["export", "NAME", "--format", "json"],
                        ["export", "NAME", "-o", "LINK", "--force"], ["report", "NAME", "-o", "OUT"],
                        ["eval", "NAME", "--limit", "2"], ["resume", "NAME", "--trials", "1"], ["worker", "NAME"]])


@st.composite
def case(draw):
    """Two in five cases are valid (every check passes; the text in them is still odd), the rest
    break something somewhere."""
    ok = draw(st.integers(0, 4)) < 3
    return {"ok": ok, "task": draw(task_doc(ok)), "space": draw(space_doc(ok)), "dev": draw(rows(ok)),
            "dev_format": draw(st.sampled_from(["jsonl", "jsonl", "csv"])), "dev_junk": None if ok else draw(JUNK),
            "argv": draw(command(ok)), "fresh_db": draw(st.integers(0, 4)) == 0,
            "then": draw(st.one_of(st.none(), THEN))}  # after an optimize: a command on the new search


# --- running a case ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Valid task files and a database holding a finished search 'done' and an empty 'empty'."""
    import importlib.util
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("promptsearch_fuzz_conftest", root / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    from promptsearch.config import load_space, load_task
    from promptsearch.search import SearchSettings, new_search, run_trials
    from promptsearch.storage import Store

    d = tmp_path_factory.mktemp("fuzz-template")
    for split, n, offset in (("train", 8, 0), ("dev", 4, 100), ("test", 4, 200)):
        conftest.write_jsonl(d / f"{split}.jsonl", conftest.sentiment_rows(n, offset))
    (d / "task.yaml").write_text("name: tiny\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [review]\noutput: label\nlabels: [negative, positive]\n")
    (d / "space.yaml").write_text("name: tiny\ninstructions: ['Classify as {labels}.', 'Sentiment?']\n")
    store = Store(f"sqlite:///{d / 'db.sqlite'}")
    task, space = load_task(d / "task.yaml"), load_space(d / "space.yaml")
    done = new_search(store, "done", task, space, "fake", SearchSettings())
    store.set_trial_target(done, 2)
    run_trials(store, done, conftest.FakeLM(), 2)
    new_search(store, "empty", task, space, "fake", SearchSettings())
    store.close()
    return d, conftest.FakeLM


def db_state(path: Path) -> str:
    """The database's bytes (main file and write-ahead log); 'absent' when there is none."""
    if not path.exists():
        return "absent"
    h = hashlib.sha256(path.read_bytes())
    wal = Path(f"{path}-wal")
    if wal.exists():
        h.update(wal.read_bytes())
    return h.hexdigest()


def materialize(c: dict, d: Path, template: Path) -> list[str]:
    for split in ("train", "test"):
        shutil.copy(template / f"{split}.jsonl", d / f"{split}.jsonl")
    dev = write_rows(d / "dev", c["dev"], c["dev_format"], c["dev_junk"])
    task = c["task"]
    if isinstance(task, dict):
        task = {k: (dev.name if v == "DEV" else v) for k, v in task.items()}
    (d / "task.yaml").write_text(dump(task), encoding="utf-8")
    (d / "space.yaml").write_text(dump(c["space"]), encoding="utf-8")
    (d / "ckpt").mkdir()
    (d / "ckpt" / "config.json").write_text('{"model_type": "llama"}')
    (d / "existing.txt").write_text("keep")
    (d / "target.txt").write_text("keep")
    (d / "link.txt").symlink_to(d / "target.txt")
    (d / "folder").mkdir()
    (d / "baseline.json").write_text('{"prompt": "Review: {review}\\nLabel:"}')
    (d / "fake.gguf").write_bytes(b"GGUF" + bytes(28))  # starts like one; transformers refuses it
    swap = {"FAKEGGUF": str(d / "fake.gguf"), "TASK": str(d / "task.yaml"), "SPACE": str(d / "space.yaml"),
            "MODELDIR": str(d / "ckpt"),
            "OUT": str(d / "out.txt"), "LINK": str(d / "link.txt"), "EXISTING": str(d / "existing.txt"),
            "NOFOLDER": str(d / "no" / "out.txt"), "FOLDER": str(d / "folder"), "BASELINE": str(d / "baseline.json")}
    db = d / ("fresh.db" if c["fresh_db"] else "db.sqlite")
    if not c["fresh_db"]:
        shutil.copy(template / "db.sqlite", db)
    return [swap.get(a, a) for a in c["argv"]] + ["--db", f"sqlite:///{db}"]


def run_case(c: dict, template_dir: Path, lm_factory) -> None:
    with tempfile.TemporaryDirectory(prefix="ps-fuzz-") as tmp, contextlib.chdir(tmp):  # report writes here
        d = Path(tmp)
        argv = materialize(c, d, template_dir)
        code = run_command(argv, lm_factory, tmp)
        if c["ok"] and argv[0] == "optimize":  # valid inputs, however odd their text, are accepted
            assert code == 0, (argv, "valid inputs refused")
        if code == 0 and argv[0] == "optimize" and c["then"] is not None:
            name = argv[argv.index("--name") + 1] if "--name" in argv else c["task"]["name"]
            then = [name if a == "NAME" else str(d / "link.txt") if a == "LINK" else str(d / "out.html")
                    if a == "OUT" else a for a in c["then"]]
            assert run_command(then + argv[-2:], lm_factory, tmp) == 0, (then, "failed on a search just made")


def run_command(argv: list[str], lm_factory, tmp: str) -> int:
    """Run one command line and check the properties in the module docstring; its exit code."""
    db = Path(argv[-1].removeprefix("sqlite:///"))
    before = db_state(db)
    out, err = io.StringIO(), io.StringIO()
    # rich's consoles write to whatever sys.stdout / sys.stderr are at print time
    with mock.patch("promptsearch.service.models.load_model", lambda spec=None, **kw: lm_factory()), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException:
            pytest.fail(f"{argv}: escaped main():\n{traceback.format_exc()}")
    after = db_state(db)
    message = err.getvalue()
    event(f"{argv[0]} -> {code}")
    if os.environ.get("PROMPTSEARCH_FUZZ_DEBUG") and code == 2:
        event(argv[0] + ": " + " ".join(message.split()[1:])[:70].replace(tmp, ""))
    assert "Traceback" not in message, (argv, message)
    assert code in (0, 2), (argv, code, message)
    if code == 2:
        assert message.startswith("error: ") and message.count("\n") == 1, (argv, message)
        assert after == before, (argv, "exit 2 changed the database", message)
    if argv[0] in READ_ONLY:
        assert after == before, (argv, "a read-only command changed the database")
    return code


FUZZ_SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
                         suppress_health_check=list(HealthCheck), print_blob=True)


def _case(argv, *, ok=True, task=None, space=None, dev=None, dev_format="jsonl", then=None, fresh_db=False):
    """A case as `case()` draws it, for @example: the failures found while building the fuzzer."""
    task = task or {"name": "tiny", "train": "train.jsonl", "dev": "DEV", "test": "test.jsonl", "inputs": ["review"],
                    "output": "label", "labels": LABELS}
    space = space or {"name": "s", "instructions": ["Classify."]}
    dev = dev or [{"review": "item 1 was great", "label": "positive"}]
    return {"ok": ok, "task": task, "space": space, "dev": dev, "dev_format": dev_format, "dev_junk": None,
            "argv": argv, "fresh_db": fresh_db, "then": then}


OPT = ["optimize", "TASK", "--space", "SPACE", "--trials", "1"]


@FUZZ_SETTINGS
@given(c=case())
# markup in an instruction and a space name: optimize crashed after creating the search, then show did
@example(c=_case([*OPT, "--name", "new"], space={"name": "rs[/x]", "instructions": ["[/INST] Classify."]},
                 then=["show", "NAME"]))
# a task name that is markup, used as the search name
@example(c=_case(OPT, ok=False, task=_case([])["task"] | {"name": "[/INST]"}))
# raw U+2028 in a JSON string; a quoted multi-line CSV field with a BOM; a number as input
@example(c=_case(OPT, dev=[{"review": "a\u2028b", "label": "positive"}, {"review": 3, "label": "negative"}]))
@example(c=_case(OPT, dev=[{"review": "\ufeffline\nbreak, comma", "label": "positive"}], dev_format="csv"))
# a seed at the top of its range, then resume: the sampler's seed overflowed
@example(c=_case([*OPT, "--seed", "4294967295", "--name", "top"], then=["resume", "NAME", "--trials", "1"]))
# an alias bomb where an error message quotes the value
@example(c=_case(OPT, ok=False, space=dump({"name": "b", "instructions": ["x"]}) + BOMB + "templates: *l7\n"))
# a model that does not load, with workers: the search used to be created first
@example(c=_case([*OPT, "--model", "MODELDIR", "--workers", "2"], ok=False))
def test_cli_on_generated_inputs(template, c):
    run_case(c, template[0], template[1])


@settings(max_examples=3, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(c=case().filter(lambda c: c["argv"][0] == "optimize"))
def test_cli_on_generated_inputs_with_the_real_model(template, smollm, c):
    """A few generated `optimize` cases on the embedded model: its real tokenizer, chat template and
    context length meet the odd text (the fake LM has none of these)."""
    run_case(c, template[0], lambda: smollm)


# --- data files with odd Unicode (issue 25) -----------------------------------------------------

UNICODE_EXAMPLES = int(os.environ.get("PROMPTSEARCH_FUZZ_UNICODE_EXAMPLES", "40"))
SURROGATES = ["\ud800", "\udfff", "\udbff", "\udc00"]  # lone halves of a UTF-16 pair
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
RTL = ["\u202e", "\u202b", "\u200f", "\u2067", "שלום", "مرحبا"]
COMBINING = ["e\u0301", "\u00e9", "A\u030a", "\u212b", "\uac00", "\u1100\u1161"]  # NFD and NFC forms, Hangul
ODD = st.sampled_from(SURROGATES + INVISIBLE + RTL + COMBINING + ["a", " ", "x"])
LABEL_BASE = ["café", "Ångström", "positive"]


@st.composite
def unicode_case(draw):
    """Labels in one normal form, dev rows whose labels and reviews may use another, carry
    invisible or right-to-left characters, or lone surrogates; JSONL (escaped) or CSV."""
    label_form = draw(st.sampled_from(["NFC", "NFD"]))
    labels = [unicodedata.normalize(label_form, lab) for lab in LABEL_BASE]
    rows_out, issues, surrogate = [], [], False
    for i in range(draw(st.integers(1, 3))):
        review = "item " + "".join(draw(st.lists(ODD, min_size=1, max_size=6)))
        label = labels[i % len(labels)]
        twist = draw(st.sampled_from(["none", "none", "form", "invisible", "surrogate"]))
        if twist == "form":
            other = unicodedata.normalize("NFD" if label_form == "NFC" else "NFC", label)
            issues += ["normalization"] if other != label else []
            label = other
        elif twist == "invisible":
            label = label[:2] + draw(st.sampled_from(INVISIBLE)) + label[2:]
            issues.append("invisible")
        elif twist == "surrogate":
            review += SURROGATES[0]
        surrogate = surrogate or any(h in review for h in SURROGATES)
        rows_out.append({"review": review, "label": label})
    # a lone surrogate is found when the file is read, before any row's fields are checked
    expect = "surrogate" if surrogate else issues[0] if issues else "ok"
    return {"labels": labels, "rows": rows_out, "format": draw(st.sampled_from(["jsonl", "jsonl", "csv"])),
            "expect": expect}


def _write_unicode_dev(path: Path, c: dict) -> Path:
    path = path.with_suffix("." + c["format"])
    if c["format"] == "jsonl":  # ensure_ascii: a lone surrogate is written as its \u escape
        path.write_text("".join(json.dumps(r) + "\n" for r in c["rows"]), encoding="ascii")
    else:  # a CSV cannot escape one: its bytes are not UTF-8 (surrogatepass writes them raw)
        import csv
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["review", "label"])
        for r in c["rows"]:
            w.writerow([r["review"], r["label"]])
        path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass"))
    return path


@settings(max_examples=UNICODE_EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=list(HealthCheck), print_blob=True)
@given(c=unicode_case())
@example(c={"labels": ["café", "Ångström", "positive"], "format": "jsonl", "expect": "normalization",
            "rows": [{"review": "item a", "label": unicodedata.normalize("NFD", "café")}]})
@example(c={"labels": ["café", "Ångström", "positive"], "format": "jsonl", "expect": "surrogate",
            "rows": [{"review": "item \ud800", "label": "café"}]})
def test_data_files_with_odd_unicode(template, c):
    """Exit 0 when every label matches exactly; otherwise one line that names what is odd."""
    with tempfile.TemporaryDirectory(prefix="ps-fuzz-u-") as tmp, contextlib.chdir(tmp):
        d = Path(tmp)
        for split in ("train", "test"):  # labels of the task's own form
            (d / f"{split}.jsonl").write_text("".join(json.dumps({"review": f"r{i}", "label": lab}) + "\n"
                                                      for i, lab in enumerate(c["labels"])))
        dev = _write_unicode_dev(d / "dev", c)
        (d / "task.yaml").write_text(dump({"name": "u", "train": "train.jsonl", "dev": dev.name, "test": "test.jsonl",
                                           "inputs": ["review"], "output": "label", "labels": c["labels"]}),
                                     encoding="utf-8")
        (d / "space.yaml").write_text("name: s\ninstructions: [Classify.]\n")
        argv = ["optimize", str(d / "task.yaml"), "--space", str(d / "space.yaml"), "--trials", "1",
                "--db", f"sqlite:///{d / 'x.db'}"]
        err = io.StringIO()
        with mock.patch("promptsearch.service.models.load_model", lambda spec=None, **kw: template[1]()), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
        message = err.getvalue()
        event(f"{c['format']} {c['expect']} -> {code}")
        if c["expect"] == "ok":
            assert code == 0, message
            return
        assert code == 2 and message.startswith("error: ") and message.count("\n") == 1, message
        assert not (d / "x.db").exists(), "a refused data file created the database"
        if c["expect"] == "surrogate":
            assert ("lone surrogate" if c["format"] == "jsonl" else "not UTF-8") in message, message
        elif c["expect"] == "normalization":
            assert "differ only in Unicode normalization" in message, message
        elif c["expect"] == "invisible":
            assert "differ only in invisible characters" in message, message
