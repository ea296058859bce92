"""The export-format registry: one signature for every format, unknown names list the registered
ones, and a format registered here is offered by `export --format` and the Python API."""
import pytest

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.errors import ConfigError, UserError
from promptsearch.export import EXPORTERS, render_export
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.results import best
from promptsearch.storage import Store


@pytest.fixture
def search(tmp_path, tiny_task, tiny_space, fake_lm):
    db = f"sqlite:///{tmp_path}/x.db"
    store = Store(db)
    record = new_search(store, "x", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, record, fake_lm, 2)
    return db, store, record


@pytest.fixture
def markdown():
    @EXPORTERS.register("markdown")
    def markdown_export(store, record, entry):
        return f"# {record.name}, trial {entry.trial}\n\n```\n{entry.candidate.prompt}\n```\n"
    yield markdown_export
    EXPORTERS.remove("markdown")


def test_unknown_format_is_one_line_listing_the_formats(search):
    _db, store, record = search
    with pytest.raises(ConfigError) as e:
        render_export(store, record, best(store, record), "yaml")
    assert str(e.value).startswith("--format: 'yaml' is not a known export format; "
                                   "allowed: text, json, chat, jinja, dspy")
    with pytest.raises(UserError, match=r"^export: 'yaml' is not a known export format; allowed: text, json"):
        ps.export_prompt(store, "x", "yaml")


def test_a_registered_format_exports_through_the_cli_and_the_api(search, markdown, tmp_path):
    db, store, record = search
    out = tmp_path / "best.md"
    assert main(["export", "x", "--format", "markdown", "-o", str(out), "--db", db]) == 0
    top = best(store, record)
    assert out.read_text() == f"# x, trial {top.trial}\n\n```\n{top.candidate.prompt}\n```\n"
    assert ps.export_prompt(store, "x", "markdown") == out.read_text()
    assert set(EXPORTERS.names()) >= {"text", "json", "chat", "jinja", "dspy", "markdown"}
