"""The search space: which instructions, demonstrations, CoT triggers and layouts to try."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptsearch.config.yamlio import Fields, read_yaml_mapping

TEMPLATES = ("plain", "chat")
SELECTIONS = ("random", "stratified")


@dataclass(frozen=True)
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

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SpaceSpec":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def load_space(path: str | Path) -> SpaceSpec:
    """Parse a search-space YAML strictly (see search_spaces/default.yaml for every field)."""
    path = Path(path)
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
            raise f.error(f"templates[{i}]", f"is '{t}'; allowed: {', '.join(TEMPLATES)}")
    seed = f.get("seed", int, default=0)
    f.done()
    return SpaceSpec(name=name, description=description, instructions=tuple(instructions),
                     cot_triggers=tuple(triggers), templates=tuple(templates), seed=seed,
                     source=str(path), **demos)


def _demos(f: Fields, path: Path) -> dict[str, Any]:
    raw = f.get("demos", dict, default={})
    d = Fields(raw, path, prefix="demos.")
    counts = d.get("counts", list, default=[0])
    for i, c in enumerate(counts):
        if isinstance(c, bool) or not isinstance(c, int) or c < 0 or c > 64:
            raise d.error(f"counts[{i}]", f"must be an integer from 0 to 64, got {c!r}")
    if not counts:
        raise d.error("counts", "must not be an empty list")
    selection = d.str_list("selection") or ["random"]
    for i, s in enumerate(selection):
        if s not in SELECTIONS:
            raise d.error(f"selection[{i}]", f"is '{s}'; allowed: {', '.join(SELECTIONS)}")
    draws = d.get("draws", int, default=1)
    if draws < 1:
        raise d.error("draws", f"must be at least 1, got {draws}")
    d.done()
    return {"demo_counts": tuple(sorted(set(counts))), "demo_selection": tuple(selection),
            "demo_draws": draws}
