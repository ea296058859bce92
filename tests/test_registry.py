import subprocess
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


@pytest.mark.parametrize(("module", "registry", "builtins"), [
    ("promptsearch.data.metrics", "METRICS", {"accuracy", "exact_match", "contains", "numeric", "f1", "chrf"}),
    ("promptsearch.strategies.base", "STRATEGIES",
     {"direct", "zero_shot_cot", "few_shot_cot", "self_consistency", "least_to_most"}),
    ("promptsearch.export.formats", "EXPORTERS", {"text", "json", "chat", "jinja", "dspy"}),
    ("promptsearch.lm.backends", "BACKENDS", {"remote", "local"}),
    ("promptsearch.propose.methods", "PROPOSAL_METHODS", {"induction", "refinement", "resampling", "reflection"}),
])
def test_builtins_are_registered_however_the_registry_is_reached(module, registry, builtins):
    """A fresh process that imports only the registry's own module sees every built-in: each
    package imports its built-ins, so there is no second list to keep."""
    code = f"import {module} as m; print(','.join(m.{registry}.names()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(out.strip().split(",")) >= builtins


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
            exec(compile(code, "docs/extending.md", "exec"), {})
        assert all(name in registry for registry, name in added)
        assert STRATEGIES.get("shout")(marks=2).key() == "shout:m2"
        assert BACKENDS.get("vllm-local").claims("vllm:x") and not BACKENDS.get("vllm-local").claims("smollm2")
    finally:
        for registry, name in added:
            registry.remove(name)
