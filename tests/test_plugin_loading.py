"""promptsearch/plugins.py: where plug-in modules are named, what a search stores, and the
one-line errors. (The walkthrough through the CLI, workers included: tests/cli/test_plugins.py.)"""
import sys
import types

import pytest

import promptsearch as ps
from promptsearch import plugins
from promptsearch.errors import UserError


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """No plug-in loaded yet; modules written to tmp_path are importable; no entry points."""
    monkeypatch.setattr(plugins, "_loaded", {})
    monkeypatch.setattr(plugins, "entry_points", lambda group: [])
    monkeypatch.delenv(plugins.ENV_VAR, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, code: str = "") -> str:
        (tmp_path / f"{name}.py").write_text(f"import sys\nsys.modules[__name__].imports = "
                                             f"getattr(sys.modules[__name__], 'imports', 0) + 1\n{code}")
        monkeypatch.delitem(sys.modules, name, raising=False)
        return name
    return write


class Study:
    def __init__(self):
        self.user_attrs: dict = {}

    def set_user_attr(self, key, value):
        self.user_attrs[key] = value


def test_entry_points_then_env_then_flags_each_imported_once(fresh, monkeypatch):
    for name in ("_pl_ep", "_pl_env1", "_pl_env2", "_pl_flag"):
        fresh(name)
    ep = types.SimpleNamespace(name="mine", module="_pl_ep")
    monkeypatch.setattr(plugins, "entry_points", lambda group: [ep] if group == plugins.ENTRY_POINT_GROUP else [])
    monkeypatch.setenv(plugins.ENV_VAR, " _pl_env1, ,_pl_env2 ")
    assert plugins.load(["_pl_flag", "_pl_env1"]) == ("_pl_ep", "_pl_env1", "_pl_env2", "_pl_flag")
    assert plugins.load(["_pl_flag"]) == ("_pl_ep", "_pl_env1", "_pl_env2", "_pl_flag")
    assert sys.modules["_pl_flag"].imports == 1


@pytest.mark.parametrize(("name", "code", "message"), [
    ("my-metrics.py", None, "--plugin: 'my-metrics.py' is not a module name (e.g. my_metrics or my_package.plugin)"),
    ("_pl_absent", None, "--plugin: cannot import plug-in module '_pl_absent': No module named '_pl_absent'"),
    ("_pl_broken", "raise ValueError('no registry\\nhere')",
     "--plugin: plug-in module '_pl_broken' failed while importing: ValueError: no registry\\nhere"),
])
def test_a_module_that_cannot_be_loaded_is_a_user_error_naming_it(fresh, name, code, message):
    if code is not None:
        fresh(name, code)
    with pytest.raises(plugins.PluginError) as e:
        plugins.load([name])
    assert isinstance(e.value, UserError) and str(e.value) == message
    assert plugins.loaded() == ()


def test_a_search_stores_its_plugins_and_requires_them_again(fresh, monkeypatch):
    fresh("_pl_metric")
    plugins.load(["_pl_metric"])
    study = Study()
    user_object = type("Outside", (), {"__module__": "_pl_by_hand"})  # a module imported by hand (the API)
    builtin = type("Inside", (), {"__module__": "promptsearch.data.metric_builtins"})
    assert plugins.record(study, [user_object, builtin]) == ["_pl_metric", "_pl_by_hand"]
    assert plugins.stored(study) == ["_pl_metric", "_pl_by_hand"]

    monkeypatch.setattr(plugins, "_loaded", {})  # another process: the metric's module is importable
    monkeypatch.delitem(sys.modules, "_pl_metric")
    with pytest.raises(plugins.PluginError) as e:  # ... the hand-imported one is not
        plugins.require(study, "s1")
    assert str(e.value) == ("search 's1' needs plug-in module '_pl_by_hand', which cannot be imported here "
                            "(No module named '_pl_by_hand'); install it or put it on PYTHONPATH (or in this "
                            "folder), then run again")
    assert "_pl_metric" in sys.modules


def test_nothing_stored_without_plugins(fresh):
    study = Study()
    assert plugins.record(study, [int]) == [] and plugins.stored(study) == []
    plugins.require(study, "s")


def test_the_api_loads_plugins(fresh):
    fresh("_pl_api", "from promptsearch.export import EXPORTERS\n"
                     "EXPORTERS.add('pl-api', lambda store, record, entry: 'x', replace=True)\n")
    from promptsearch.export import EXPORTERS
    try:
        assert ps.load_plugins("_pl_api") == ("_pl_api",) and "pl-api" in EXPORTERS
    finally:
        EXPORTERS.remove("pl-api")
