"""Nothing read from a file or the database is unpickled or evaluated, and passwords in database
URLs never reach an output, a log line or the database itself."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import optuna
import pytest

import promptsearch
from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.storage import Store, mask_url

PACKAGE = Path(promptsearch.__file__).parent
# Ways to turn bytes into live objects or code. yaml.safe_load and json are the only parsers used.
UNSAFE = re.compile(r"\b(import pickle|from pickle|cPickle|import marshal|import shelve|import dill|cloudpickle"
                    r"|(?<![\w.])eval\(|(?<![\w.])exec\(|yaml\.load\(|yaml\.unsafe_load|yaml\.full_load"
                    r"|jsonpickle|torch\.load\()")


def test_no_unpickling_or_eval_in_promptsearch():
    hits = [f"{p.relative_to(PACKAGE)}:{i}: {line.strip()}"
            for p in PACKAGE.rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
            if UNSAFE.search(line) and not line.lstrip().startswith("#")]
    assert not hits, hits


def test_optunas_rdb_storage_does_not_pickle():
    """Optuna's RDB storage (our trials, params, attributes) is JSON all the way down."""
    rdb = Path(optuna.storages.__file__).parent / "_rdb"
    for p in rdb.glob("*.py"):
        assert not re.search(r"\bpickle\b", p.read_text(encoding="utf-8")), p


def test_stored_parameters_and_attributes_are_json(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = new_search(store, "s", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 4)
    with store.engine.connect() as conn:
        for (dist,) in conn.exec_driver_sql("SELECT distribution_json FROM trial_params"):
            optuna.distributions.json_to_distribution(dist)  # JSON with a known class name, or it raises
        for table in ("trial_user_attributes", "trial_system_attributes", "study_system_attributes"):
            for (value,) in conn.exec_driver_sql(f"SELECT value_json FROM {table}"):
                json.loads(value)


def test_mask_url_hides_every_password():
    assert mask_url("postgresql://bob:secret@host/db") == "postgresql://bob:***@host/db"
    assert mask_url("postgresql+psycopg://bob:p%40ss@host:5432/db?sslmode=require") == \
        "postgresql+psycopg://bob:***@host:5432/db?sslmode=require"
    assert "secret" not in mask_url("mysql://u:secret@h/d")
    assert mask_url("sqlite:///db/x.db") == "sqlite:///db/x.db"


def test_password_not_in_logs_or_output(caplog, capsys):
    url = "postgresql://bob:s3cret-pw@127.0.0.1:1/db"
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception) as raised:  # --debug re-raises, as shown
        main(["show", "x", "--db", url, "--debug"])
    assert "s3cret-pw" not in str(raised.value)
    captured = capsys.readouterr()
    assert "s3cret-pw" not in caplog.text + captured.out + captured.err
