"""The search space: which instructions, demonstrations, CoT triggers, strategies and layouts to try.

Every key is optional except `instructions`; see search_spaces/default.yaml (label tasks) and
search_spaces/reasoning.yaml (strategies, self-consistency, bootstrapping, nearest demos).

Strategy names (`strategies`, `bootstrap.strategy`) are kept as strings here: they are a registry
of a higher layer, which checks them (promptsearch.strategies.check_space) before a search is
stored, with the file and field in the error.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptsearch.config.formats import parse_formats
from promptsearch.config.limits import SEED_MAX
from promptsearch.config.propose import parse_propose
from promptsearch.config.yamlio import Fields, read_yaml_mapping
from promptsearch.errors import excerpt

TEMPLATES = ("plain", "chat")
SELECTIONS = ("random", "stratified", "nearest")
ORDERS = ("drawn", "similar_last")
EMBEDDINGS = ("minilm", "lm")
LABEL_ANSWERS = ("rank", "extract")
STARTS = ("auto", "none")


@dataclass(frozen=True, kw_only=True)
class SpaceSpec:
    name: str
    instructions: tuple[str, ...]  # may use {labels}, {inputs} and {output}
    demo_counts: tuple[int, ...] = (0,)
    demo_selection: tuple[str, ...] = ("random",)
    demo_draws: int = 1  # how many different demo sets of each size and selection to offer
    cot_triggers: tuple[str | None, ...] = (None,)  # None = no trigger
    templates: tuple[str, ...] = ("plain",)
    seed: int = 0
    description: str = ""
    source: str = ""
    strategies: tuple[str, ...] = ("direct",)
    demo_orders: tuple[str, ...] = ("drawn",)  # nearest demos: most similar first, or last
    embedding: str = "minilm"  # nearest demos: the sentence-embedding model, or "lm"
    max_reasoning_tokens: int = 128
    label_answers: tuple[str, ...] = ("rank",)  # label tasks after reasoning
    max_subquestions: int = 3  # least-to-most
    sc_samples: tuple[int, ...] = (5,)  # self-consistency: reasoning paths
    sc_temperatures: tuple[float, ...] = (0.7,)
    bootstrap_strategy: str = "zero_shot_cot"  # how demo rationales are made when the data has none
    bootstrap_trigger: str | None = "Let's think step by step."
    bootstrap_tries: int = 16  # train examples run to find correctly answered ones
    propose: dict[str, Any] | None = None  # ProposeSpec.to_dict(): LLM-driven instruction proposal
    formats: dict[str, Any] | None = None  # FormatSpec.to_dict() (config/formats.py); None: today's format
    start: str = "auto"  # auto: a new search's trial 0 is the hand-written-style prompt (search/start.py)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpaceSpec:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        fields.setdefault("start", "none")  # stored before search/start.py: no start trial was queued
        return cls(**fields)


# The spaces that come with promptsearch (search_spaces/ beside the package, in a clone or an
# editable install): `--space search_spaces/default.yaml`, the default, works from any folder.
SHIPPED_SPACES = Path(__file__).resolve().parents[2] / "search_spaces"


def find_space(path: str | Path) -> Path:
    """The space file `path` names: as given when it exists (or is absolute); otherwise a relative
    `search_spaces/NAME.yaml`, `NAME.yaml` or `NAME` is one of the shipped spaces, if there is one."""
    given = Path(path)
    if given.is_absolute() or given.exists() or given.parent.name not in ("", "search_spaces") \
            or len(given.parts) > 2:
        return given
    shipped = SHIPPED_SPACES / (given.name if given.suffix in (".yaml", ".yml") else f"{given.name}.yaml")
    return shipped if shipped.is_file() else given


def load_space(path: str | Path) -> SpaceSpec:
    """Parse a search-space YAML strictly (see search_spaces/default.yaml for every field)."""
    path = find_space(path)
    f = Fields(read_yaml_mapping(path, "search space"), path)
    name = f.get("name", str, default=path.stem)
    description = f.get("description", str, default="")
    instructions = f.str_list("instructions", required=True, allow_blank=True)
    if len(set(instructions)) != len(instructions):
        raise f.error("instructions", "lists an instruction twice")
    demos = _demos(f, path)
    triggers = f.str_list("cot_triggers", allow_null=True) or [None]
    templates = f.str_list("templates") or ["plain"]
    for i, t in enumerate(templates):
        if t not in TEMPLATES:
            raise f.error(f"templates[{i}]", f"is '{excerpt(t)}'; allowed: {', '.join(TEMPLATES)}")
    seed = _int(f, "seed", 0, 0, SEED_MAX)
    strategies = _distinct(f, "strategies", f.str_list("strategies") or ["direct"])
    extra = {**_reasoning(f, path), **_self_consistency(f, path), **_bootstrap(f, path)}
    raw_propose = f.get("propose", dict, default=None)
    extra["propose"] = parse_propose(raw_propose, path).to_dict() if raw_propose is not None else None
    raw_formats = f.get("formats", dict, default=None)
    extra["formats"] = parse_formats(raw_formats, path).to_dict() if raw_formats is not None else None
    extra["start"] = f.get("start", str, default="auto")
    if extra["start"] not in STARTS:
        raise f.error("start", f"is '{excerpt(extra['start'])}'; allowed: {', '.join(STARTS)}")
    f.done()
    return SpaceSpec(name=name, description=description, instructions=tuple(instructions),
                     cot_triggers=tuple(triggers), templates=tuple(templates), seed=seed,
                     source=str(path), strategies=tuple(strategies), **demos, **extra)


def _choices(f: Fields, key: str, allowed: tuple[str, ...], default: list[str]) -> list[str]:
    """A non-empty list of distinct values from `allowed`."""
    values = f.str_list(key) or default
    for i, v in enumerate(values):
        if v not in allowed:
            raise f.error(f"{key}[{i}]", f"is '{excerpt(v)}'; allowed: {', '.join(allowed)}")
    return _distinct(f, key, values)


def _distinct(f: Fields, key: str, values: list[str]) -> list[str]:
    """`values` (of field `key`), if none is listed twice."""
    if len(set(values)) != len(values):
        raise f.error(key, "lists a value twice")
    return values


def _int(f: Fields, key: str, default: int, low: int, high: int) -> int:
    value = f.get(key, int, default=default)
    if not low <= value <= high:
        raise f.error(key, f"must be from {low} to {high}, got {excerpt(value)}")
    return value


def _reasoning(f: Fields, path: Path) -> dict[str, Any]:
    r = Fields(f.get("reasoning", dict, default={}), path, prefix="reasoning.")
    out = {"max_reasoning_tokens": _int(r, "max_tokens", 128, 8, 4096),
           "label_answers": tuple(_choices(r, "label_answer", LABEL_ANSWERS, ["rank"])),
           "max_subquestions": _int(r, "max_subquestions", 3, 1, 10)}
    r.done()
    return out


def _self_consistency(f: Fields, path: Path) -> dict[str, Any]:
    sc = Fields(f.get("self_consistency", dict, default={}), path, prefix="self_consistency.")
    samples = sc.get("samples", list, default=[5])
    for i, n in enumerate(samples):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
            raise sc.error(f"samples[{i}]", f"must be an integer from 1 to 64, got {excerpt(n)}")
    temps = sc.get("temperatures", list, default=[0.7])
    for i, t in enumerate(temps):
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 2:
            raise sc.error(f"temperatures[{i}]", f"must be a number above 0 and at most 2, got {excerpt(t)}")
    for key, values in (("samples", samples), ("temperatures", temps)):
        if not values:
            raise sc.error(key, "must not be an empty list")
    sc.done()
    return {"sc_samples": tuple(sorted(set(samples))), "sc_temperatures": tuple(sorted({float(t) for t in temps}))}


def _bootstrap(f: Fields, path: Path) -> dict[str, Any]:
    b = Fields(f.get("bootstrap", dict, default={}), path, prefix="bootstrap.")
    strategy = b.get("strategy", str, default="zero_shot_cot")
    # null is a value here (reason without a trigger), not "use the default"
    trigger = b.get("trigger", str, default=None if "trigger" in b.data else "Let's think step by step.")
    out = {"bootstrap_strategy": strategy, "bootstrap_trigger": trigger,
           "bootstrap_tries": _int(b, "tries", 16, 1, 100000)}
    b.done()
    return out


def _demos(f: Fields, path: Path) -> dict[str, Any]:
    raw = f.get("demos", dict, default={})
    d = Fields(raw, path, prefix="demos.")
    counts = d.get("counts", list, default=[0])
    for i, c in enumerate(counts):
        if isinstance(c, bool) or not isinstance(c, int) or c < 0 or c > 64:
            raise d.error(f"counts[{i}]", f"must be an integer from 0 to 64, got {excerpt(c)}")
    if not counts:
        raise d.error("counts", "must not be an empty list")
    selection = d.str_list("selection") or ["random"]
    for i, s in enumerate(selection):
        if s not in SELECTIONS:
            raise d.error(f"selection[{i}]", f"is '{excerpt(s)}'; allowed: {', '.join(SELECTIONS)}")
    draws = _int(d, "draws", 1, 1, 100)
    orders = _choices(d, "order", ORDERS, ["drawn"])
    embedding = d.choice("embedding", EMBEDDINGS, default="minilm")
    d.done()
    return {"demo_counts": tuple(sorted(set(counts))), "demo_selection": tuple(selection),
            "demo_draws": draws, "demo_orders": tuple(orders), "embedding": embedding}
