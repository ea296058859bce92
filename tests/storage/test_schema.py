"""Schema versions: migrations build exactly the tables the models describe; a database from the
first schema (checked in: data/schema_v1.db, made by promptsearch 0.1 before migrations existed)
is refused until `promptsearch db upgrade`, which keeps every row."""
from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from promptsearch.cli.main import main
from promptsearch.errors import UserError
from promptsearch.search.results import completed_trials
from promptsearch.storage import Store, schema

V1 = Path(__file__).with_name("data") / "schema_v1.db"
PG_URL = os.environ.get("PROMPTSEARCH_TEST_PG")


def _diff(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": schema.include_object,
                                                    "compare_type": True})
        return compare_metadata(ctx, schema.target_metadata())


def _revision(path: Path) -> str:
    return sqlite3.connect(path).execute(f"SELECT version_num FROM {schema.VERSION_TABLE}").fetchone()[0]


@pytest.fixture
def v1(tmp_path) -> Path:
    path = tmp_path / "old.db"
    shutil.copy(V1, path)
    return path


def test_head_is_the_last_migration():
    cfg = Config()
    cfg.set_main_option("script_location", str(schema.MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == schema.HEAD
    assert [r.revision for r in reversed(list(script.walk_revisions()))] == list(schema.KNOWN)


def test_a_new_database_matches_the_models(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/new.db")
    assert not _diff(store.engine), "models.py and the migrations differ: add a migration (see schema.py)"
    assert _revision(tmp_path / "new.db") == schema.HEAD


@pytest.mark.skipif(not PG_URL, reason="PROMPTSEARCH_TEST_PG is not set (scripts/start_postgres.sh)")
def test_postgres_database_matches_the_models():
    store = Store(PG_URL)
    assert not _diff(store.engine)


def test_first_schema_is_refused_with_the_command_that_upgrades_it(v1, capsys):
    with pytest.raises(UserError, match=r"schema 0001, this version needs .*promptsearch db upgrade --db"):
        Store(f"sqlite:///{v1}", create=False)
    before = v1.read_bytes()
    assert main(["show", "legacy", "--db", f"sqlite:///{v1}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"run `promptsearch db upgrade --db sqlite:///{v1}`" in err
    assert v1.read_bytes() == before


def test_db_upgrade_keeps_every_row(v1, capsys, fake_lm):
    old = sqlite3.connect(v1)
    rows = {t: old.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("ps_searches", "ps_candidates", "ps_evaluations", "trials", "trial_values")}
    old.close()
    url = f"sqlite:///{v1}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert "promptsearch tables: upgraded from 0001 to " + schema.HEAD in capsys.readouterr().out
    new = sqlite3.connect(v1)
    for table, before in rows.items():
        after = new.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        width = len(before[0])
        assert [r[:width] for r in after] == before, table  # new columns come last
    new.close()
    store = Store(url, create=False)
    assert not _diff(store.engine)
    record = store.get_search("legacy")
    assert len(completed_trials(store, record)) == 3
    assert store.evaluations.count() == 18
    assert main(["db", "upgrade", "--db", url]) == 0  # a second upgrade has nothing to do
    assert "already at " + schema.HEAD in capsys.readouterr().out
    assert main(["show", "legacy", "--db", url]) == 0


def test_upgrade_is_all_or_nothing(v1, monkeypatch):
    from alembic import op

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(op, "bulk_insert", broken, raising=False)
    monkeypatch.setattr(op, "create_index", broken)  # 0003 creates indexes after its first table
    before = sqlite3.connect(v1).execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    with pytest.raises(RuntimeError, match="disk on fire"):
        schema.upgrade(f"sqlite:///{v1}")
    after = sqlite3.connect(v1).execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    assert after == before


def test_a_newer_schema_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/n.db"
    Store(url).engine.dispose()
    con = sqlite3.connect(tmp_path / "n.db")
    con.execute(f"UPDATE {schema.VERSION_TABLE} SET version_num = '9999'")
    con.commit()
    with pytest.raises(UserError, match=r"newer than this version's .*upgrade promptsearch"):
        Store(url, create=False)


def test_old_optuna_tables_are_refused_with_the_upgrade_command(tmp_path):
    url = f"sqlite:///{tmp_path}/o.db"
    Store(url).engine.dispose()
    con = sqlite3.connect(tmp_path / "o.db")
    con.execute("UPDATE alembic_version SET version_num = 'v3.0.0.d'")
    con.commit()
    with pytest.raises(UserError, match=r"Optuna tables are from an older Optuna version.*promptsearch db upgrade"):
        Store(url, create=False)


def _migrate_to(path: Path, revision: str) -> None:
    """The database as the promptsearch of `revision` left it (run its migrations only)."""
    from alembic import command
    cfg = Config()
    cfg.set_main_option("script_location", str(schema.MIGRATIONS))
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.stamp(cfg, schema.FIRST)
        command.upgrade(cfg, revision)
    engine.dispose()


def test_a_0003_database_is_refused_then_upgrades_keeping_its_rows(v1, capsys):
    _migrate_to(v1, "0003")
    con = sqlite3.connect(v1)
    con.execute("INSERT INTO ps_verdicts (search_id, split, examples, model, baseline, best_hash, baseline_hash, "
                "best_score, baseline_score, difference, p_value, test, details, created) "
                "SELECT id, 'test', 6, 'm', 'first', 'a', 'b', 0.5, 0.4, 0.1, 0.3, 'exact McNemar', '{}', created "
                "FROM ps_searches")
    con.commit()
    evaluations = con.execute("SELECT * FROM ps_evaluations ORDER BY id").fetchall()
    con.close()
    url = f"sqlite:///{v1}"
    with pytest.raises(UserError, match=r"schema 0003, this version needs 0004; back it up, then run "
                                        r"`promptsearch db upgrade --db "):
        Store(url, create=False)
    assert main(["db", "upgrade", "--db", url]) == 0
    assert "promptsearch tables: upgraded from 0003 to 0004" in capsys.readouterr().out
    store = Store(url, create=False)
    assert not _diff(store.engine)
    con = sqlite3.connect(v1)
    assert [r[:-1] for r in con.execute("SELECT * FROM ps_evaluations ORDER BY id")] == evaluations
    assert {r[-1] for r in con.execute("SELECT * FROM ps_evaluations")} == {None}  # feedback: none yet
    assert con.execute("SELECT kind FROM ps_verdicts").fetchall() == [("verdict",)]
    assert con.execute("SELECT COUNT(*) FROM ps_trial_owners").fetchone() == (0,)
    assert store.verdicts.latest(store.get_search("legacy").id).kind == "verdict"


def test_db_upgrade_changes_nothing_when_either_schema_is_newer(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/n.db"
    Store(url).close()
    for table, version in (("alembic_version", "v99.0.0.a"), (schema.VERSION_TABLE, "0099")):
        con = sqlite3.connect(tmp_path / "n.db")
        con.execute(f"UPDATE {table} SET version_num = '{version}'")
        con.commit()
        con.close()
        before = (tmp_path / "n.db").read_bytes()
        assert main(["db", "upgrade", "--db", url]) == 2
        err = capsys.readouterr().err.strip()
        assert version in err and "newer" in err and "\n" not in err
        assert (tmp_path / "n.db").read_bytes() == before
