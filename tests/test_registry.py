import sys

import pytest

from promptsearch.errors import ConfigError
from promptsearch.registry import Registry


def test_register_get_and_names_in_order():
    reg: Registry = Registry("widget")

    @reg.register("b")
    def b():
        return 2

    reg.add("a", 1)
    assert reg.get("b") is b and reg.get("a") == 1
    assert reg.names() == ("b", "a") and "a" in reg and len(reg) == 2


def test_unknown_name_is_one_line_naming_where_and_the_choices():
    reg = Registry("export format")
    reg.add("text", 1)
    reg.add("json", 2)
    with pytest.raises(ConfigError) as e:
        reg.get("yaml", "--format")
    assert str(e.value) == "--format: 'yaml' is not a known export format; allowed: text, json"


def test_a_second_registration_under_one_name_is_refused_unless_replacing():
    reg = Registry("metric")
    reg.add("f1", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("f1", 2)
    reg.add("f1", 3, replace=True)
    assert reg.get("f1") == 3
    with pytest.raises(ValueError):
        reg.add(" padded", 1)


def test_builtins_are_imported_on_first_lookup(tmp_path, monkeypatch):
    reg: Registry = Registry("thing", builtins=("_registry_builtin_mod",))
    monkeypatch.setattr(sys.modules[__name__], "REG", reg, raising=False)
    (tmp_path / "_registry_builtin_mod.py").write_text(
        f"import {__name__} as owner\nowner.REG.add('builtin', 42)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "_registry_builtin_mod", raising=False)
    reg.add("mine", 1)  # registering does not import the built-ins
    assert "_registry_builtin_mod" not in sys.modules
    assert reg.names() == ("mine", "builtin") and reg.get("builtin") == 42


def test_builtins_come_first_in_their_own_order_whatever_was_imported_first(tmp_path, monkeypatch):
    reg: Registry = Registry("thing", builtins=("_reg_first", "_reg_second"))
    monkeypatch.setattr(sys.modules[__name__], "REG", reg, raising=False)
    for mod, name in (("_reg_first", "one"), ("_reg_second", "two")):
        (tmp_path / f"{mod}.py").write_text(f"import {__name__} as owner\n\n@owner.REG.register('{name}')\n"
                                            f"def f():\n    pass\n")
        monkeypatch.delitem(sys.modules, mod, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    reg.add("plugin", print)
    __import__("_reg_second")  # imported directly, before the registry loads its built-ins
    assert reg.names() == ("one", "two", "plugin")
    reg.remove("plugin")
    assert reg.names() == ("one", "two") and "plugin" not in reg


def test_the_examples_in_docs_extending_register_what_they_say():
    """Every code block of docs/extending.md runs as written and adds the name it shows."""
    import re
    from pathlib import Path

    from promptsearch.data import METRICS
    from promptsearch.export import EXPORTERS
    from promptsearch.lm import BACKENDS
    from promptsearch.propose.methods import PROPOSAL_METHODS
    from promptsearch.search.sampling import SAMPLERS
    from promptsearch.strategies import STRATEGIES

    doc = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    added = [(METRICS, "starts_with"), (STRATEGIES, "shout"), (SAMPLERS, "qmc"), (EXPORTERS, "markdown"),
             (PROPOSAL_METHODS, "shorten"), (BACKENDS, "vllm-local")]
    assert len(blocks) == len(added)
    try:
        for code in blocks:
            exec(compile(code, "docs/extending.md", "exec"), {})  # noqa: S102 - our own documentation
        assert all(name in registry for registry, name in added)
        assert STRATEGIES.get("shout")(marks=2).key() == "shout:m2"
        assert BACKENDS.get("vllm-local").claims("vllm:x") and not BACKENDS.get("vllm-local").claims("smollm2")
    finally:
        for registry, name in added:
            registry.remove(name)
