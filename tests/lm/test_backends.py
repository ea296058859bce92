"""LM backends: one `load_lm` asks each registered backend whether a spec is its own; `local` takes
what no other claims. A backend registered here serves a whole search through the Python API."""
import pytest

import promptsearch as ps
from promptsearch.errors import ConfigError, NotFoundError
from promptsearch.lm import BACKENDS, load_lm


def test_builtin_backends_and_unknown_names():
    assert set(BACKENDS.names()) >= {"remote", "local"}
    with pytest.raises(ConfigError, match=r"^'grpc' is not a known LM backend; allowed: remote, local"):
        BACKENDS.get("grpc")


def test_remote_specs_go_to_the_remote_backend_and_paths_to_the_local_one(tmp_path):
    lm = load_lm("openai/gpt-x", api_base="http://127.0.0.1:9/v1", device="cpu", batch_size=3)
    assert type(lm).__name__ == "RemoteLM" and lm.name == "openai/gpt-x@http://127.0.0.1:9/v1"
    with pytest.raises(NotFoundError, match="no such file or directory"):  # local: its errors explain specs
        load_lm(str(tmp_path / "nothing-here"))


@pytest.fixture
def scripted(fake_lm):
    """`scripted:<name>` specs load the scripted fake LM, remembering the options they got."""
    seen = []

    @BACKENDS.register("scripted")
    class Scripted:
        @staticmethod
        def claims(spec):
            return bool(spec) and spec.startswith("scripted:")

        @staticmethod
        def load(spec, **options):
            seen.append((spec, options))
            return fake_lm
    yield seen
    BACKENDS.remove("scripted")


def test_a_registered_backend_loads_the_model_of_a_search(scripted, tmp_path, tiny_task, tiny_space):
    store = ps.Store(f"sqlite:///{tmp_path}/b.db")
    ps.create_search(store, "b", tiny_task, tiny_space, model="scripted:mine", batch_size=4)
    summary = ps.run_search(store, "b", 2)  # the model is loaded from what the search stored
    assert summary.completed == 2
    (spec, options), = scripted
    assert spec == "scripted:mine" and options["batch_size"] == 4
    assert load_lm("scripted:other", api_key="k") is not None and scripted[-1][1]["api_key"] == "k"
