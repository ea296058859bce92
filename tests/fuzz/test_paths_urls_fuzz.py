"""Fuzzing output paths and API-base URLs through the real CLI (issue 25, classes 1 and 5), on a
scripted fake LM and real SQLite. For every generated case:

  output paths (export -o, report -o, db backup -o, with or without --force):
    - exit 0 or 2; after 2, one line starting with "error:";
    - the database's content is unchanged, and so is every file that is not a regular file (a FIFO,
      a device node, a folder, a link) whatever the flags;
    - after 0, the output is a regular file, and no temporary file is left beside it;
  API bases (optimize --model openai/m --api-base URL):
    - exit 0 or 2; after 2, one line; no secret of the URL (password, user, key/token values) is
      printed or stored in the database; a URL that is not http(s) is never accepted.

A fixed, derandomized budget keeps it quick; PROMPTSEARCH_FUZZ_EXAMPLES / PROMPTSEARCH_FUZZ_RANDOM
as in test_cli_fuzz.py for a longer hunt.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from promptsearch.cli.main import main

EXAMPLES = int(os.environ.get("PROMPTSEARCH_FUZZ_EXAMPLES", "60"))
RANDOM = bool(os.environ.get("PROMPTSEARCH_FUZZ_RANDOM"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Task files and a database holding a finished search 'done'."""
    import importlib.util
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("promptsearch_fuzz2_conftest", root / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    from promptsearch.config import load_space, load_task
    from promptsearch.search import SearchSettings, new_search, run_trials
    from promptsearch.storage import Store

    d = tmp_path_factory.mktemp("fuzz2-template")
    for split, n, offset in (("train", 8, 0), ("dev", 4, 100), ("test", 4, 200)):
        conftest.write_jsonl(d / f"{split}.jsonl", conftest.sentiment_rows(n, offset))
    (d / "task.yaml").write_text("name: tiny\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [review]\noutput: label\nlabels: [negative, positive]\n")
    (d / "space.yaml").write_text("name: tiny\ninstructions: ['Classify as {labels}.', 'Sentiment?']\n")
    store = Store(f"sqlite:///{d / 'e.db'}")
    run_trials(store, new_search(store, "done", load_task(d / "task.yaml"), load_space(d / "space.yaml"),
                                    "fake", SearchSettings()), conftest.FakeLM(), 2)
    store.close()
    return d, conftest.FakeLM


def content(db: Path) -> str:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def run(argv: list[str], lm_factory) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch("promptsearch.service.models.load_model", lambda spec=None, **kw: lm_factory()), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException as e:
            pytest.fail(f"{argv}: escaped main(): {e!r}")
    message = err.getvalue()
    assert "Traceback" not in message and code in (0, 2), (argv, code, message)
    if code == 2:
        assert message.startswith("error: ") and message.count("\n") == 1, (argv, message)
    return code, out.getvalue(), message


# --- output paths -----------------------------------------------------------------------------

KINDS = ["new", "regular", "fifo", "device", "folder", "db", "db-wal", "db-shm", "db-journal", "hard-db",
         "link-db", "link-fifo", "link-folder", "link-regular", "dangling-link", "no-folder", "empty", "long",
         "dot", "dotdot", "trailing-slash", "text"]


def make_target(kind: str, d: Path, db: Path, name: str) -> str:
    """An -o path of the given kind in `d` (created as needed)."""
    p = d / "out"
    if kind == "regular":
        p.write_text("keep")
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "device":
        try:
            os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            os.mkfifo(p)  # not root: a FIFO stands in
    elif kind == "folder":
        p.mkdir()
    elif kind.startswith("db"):
        return str(db) + kind[2:]
    elif kind == "hard-db":
        p.hardlink_to(db)
    elif kind.startswith("link-"):
        target = {"db": db, "fifo": d / "fifo", "folder": d / "dir", "regular": d / "reg"}[kind[5:]]
        if kind == "link-fifo":
            os.mkfifo(target)
        elif kind == "link-folder":
            target.mkdir()
        elif kind == "link-regular":
            target.write_text("keep")
        p.symlink_to(target)
    elif kind == "dangling-link":
        p.symlink_to(d / "nowhere")
    elif kind == "no-folder":
        return str(d / "no" / "such" / "out")
    elif kind == "empty":
        return ""
    elif kind == "long":
        return str(d / ("x" * 300))
    elif kind in ("dot", "dotdot"):
        return "." if kind == "dot" else ".."
    elif kind == "trailing-slash":
        return str(d / "out") + "/"
    elif kind == "text":
        return name
    return str(p)


def snapshot(d: Path) -> dict[str, tuple[int, str]]:
    """Every entry in `d` that is not a regular file: its kind (and a link's target)."""
    out = {}
    for p in d.iterdir():
        mode = os.lstat(p).st_mode
        if not stat.S_ISREG(mode):
            out[p.name] = (stat.S_IFMT(mode), os.readlink(p) if p.is_symlink() else "")
    return out


@FUZZ
@given(kind=st.sampled_from(KINDS), cmd=st.sampled_from(["export", "report", "backup-one", "backup-all"]),
       force=st.booleans(), name=st.text(min_size=0, max_size=30))
def test_output_paths(template, kind, cmd, force, name):
    with tempfile.TemporaryDirectory(prefix="ps-fuzz-out-") as tmp, contextlib.chdir(tmp):
        d = Path(tmp)
        db = d / "e.db"
        shutil.copy(template[0] / "e.db", db)
        before_db = content(db)
        out = make_target(kind, d, db, name)
        argv = {"export": ["export", "done"], "report": ["report", "done"], "backup-one": ["db", "backup", "done"],
                "backup-all": ["db", "backup", "--all"]}[cmd]
        argv = [*argv, "-o", out, *(["--force"] if force else []), "--db", f"sqlite:///{db}"]
        before = snapshot(d)
        code, _, message = run(argv, template[1])
        event(f"{kind} {cmd} -> {code}")
        assert content(db) == before_db, (argv, "the database changed")
        assert snapshot(d) == before, (argv, "a file that is not a regular file was replaced", message)
        if kind in ("db", "db-wal", "db-shm", "db-journal", "hard-db", "link-db", "fifo", "device", "folder",
                    "link-fifo", "link-folder", "empty", "long", "no-folder", "dot", "dotdot"):
            assert code == 2, (argv, "accepted")
        if code == 0:
            written = Path(os.path.realpath(out))
            assert stat.S_ISREG(os.stat(written).st_mode)
            assert not [p for p in written.parent.iterdir() if p.name.endswith(".tmp")]


# --- API bases --------------------------------------------------------------------------------

SECRET = "zq8s3cr3t"
schemes = st.sampled_from(["http", "https", "HTTP", "file", "ftp", "gopher", "javascript", "data", "ws", "", "h"])
hosts = st.sampled_from(["127.0.0.1", "[::1]", "localhost", "", "[::1", "h st", "exa mple", "x" * 300, "日本.jp"])
ports = st.sampled_from(["", ":1", ":0", ":65535", ":65536", ":99999", ":-1", ":x", ":"])
userinfo = st.sampled_from(["", f"bob:{SECRET}@", f"{SECRET}@", f":{SECRET}@", f"bob:{SECRET}:x@"])
queries = st.sampled_from(["", f"?key={SECRET}", f"?api_key={SECRET}&v=1", f"?token={SECRET}", "?v=1", "?", "#frag"])


@st.composite
def urls(draw):
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=40).filter(lambda s: "\x00" not in s))
    return (f"{draw(schemes)}://{draw(userinfo)}{draw(hosts)}{draw(ports)}"
            f"{draw(st.sampled_from(['/v1', '', '/', '/v1/../x', '/%00']))}{draw(queries)}")


@FUZZ
@given(url=urls(), flag=st.sampled_from(["--api-base", "--proposer-api-base"]))
def test_api_bases(template, url, flag):
    with tempfile.TemporaryDirectory(prefix="ps-fuzz-url-") as tmp:
        d = Path(tmp)
        for f in ("task.yaml", "space.yaml", "train.jsonl", "dev.jsonl", "test.jsonl"):
            shutil.copy(template[0] / f, d / f)
        db = d / "new.db"
        model = ["--model", "openai/m"] if flag == "--api-base" else ["--proposer", "openai/p"]
        argv = ["optimize", str(d / "task.yaml"), "--space", str(d / "space.yaml"), "--trials", "1", *model,
                flag, url, "--db", f"sqlite:///{db}"]
        with mock.patch("promptsearch.service.models.check_proposer", lambda *a: None):  # no network
            code, out, message = run(argv, template[1])
        event(f"{flag} -> {code}")
        assert SECRET not in out + message, (url, out + message)
        if code == 0:
            scheme = urlsplit(url).scheme.lower()
            assert scheme in ("http", "https"), (url, "accepted a URL that is not http(s)")
            assert SECRET not in content(db), (url, "a credential was stored")
        else:
            assert not db.exists(), (url, "refused after writing")
