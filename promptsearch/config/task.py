"""The task file: where the examples are, which fields go in and out, and how answers are scored."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptsearch.config.yamlio import Fields, read_yaml_mapping
from promptsearch.errors import ConfigError

METRICS = ("accuracy", "exact_match", "contains", "numeric")
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    train: str  # absolute paths, so a stored search resumes from any working directory
    dev: str
    test: str
    inputs: tuple[str, ...]
    output: str
    metric: str
    labels: tuple[str, ...] | None = None
    description: str = ""
    source: str = ""  # the YAML file it was read from
    rationale: str | None = None  # a train field with worked solutions, for chain-of-thought demos

    @property
    def is_classification(self) -> bool:
        """Label tasks are scored by ranking the labels by log-likelihood, without generation."""
        return self.labels is not None

    def split_path(self, split: str) -> Path:
        return Path(getattr(self, split))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["inputs"] = list(self.inputs)
        d["labels"] = list(self.labels) if self.labels is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TaskSpec":
        d = dict(d)
        d["inputs"] = tuple(d["inputs"])
        d["labels"] = tuple(d["labels"]) if d.get("labels") is not None else None
        return cls(**d)


def load_task(path: str | Path) -> TaskSpec:
    """Parse a task YAML strictly. Data paths are relative to the YAML file's folder."""
    path = Path(path)
    f = Fields(read_yaml_mapping(path, "task"), path)
    name = f.get("name", str, default=path.stem)
    description = f.get("description", str, default="")
    base = path.resolve().parent
    paths = {}
    for split in SPLITS:
        rel = f.get(split, str, required=True)
        paths[split] = base / rel
        if not paths[split].is_file():
            raise f.error(split, f"points to {paths[split]}, which does not exist")
        if paths[split].suffix.lower() not in (".jsonl", ".csv"):
            raise f.error(split, f"must be a .jsonl or .csv file, got '{paths[split].name}'")
    inputs = f.str_list("inputs", required=True)
    output = f.get("output", str, required=True)
    if output in inputs:
        raise f.error("output", f"'{output}' is also listed in inputs; the output must be another field")
    if len(set(inputs)) != len(inputs):
        raise f.error("inputs", "lists a field twice")
    metric = f.choice("metric", METRICS, default="accuracy")
    labels = f.str_list("labels")
    if labels is not None and len(set(labels)) != len(labels):
        raise f.error("labels", "lists a label twice")
    rationale = f.get("rationale", str)
    if rationale is not None and rationale in (*inputs, output):
        raise f.error("rationale", f"'{rationale}' is also an input or the output; name the field "
                                   f"that holds worked solutions in the train split")
    f.done()
    return TaskSpec(name=name, description=description,
                    train=str(paths["train"]), dev=str(paths["dev"]), test=str(paths["test"]),
                    inputs=tuple(inputs), output=output, metric=metric,
                    labels=tuple(labels) if labels is not None else None, source=str(path),
                    rationale=rationale)


def check_name(name: str, where: str) -> str:
    if not name or any(c.isspace() for c in name) or "/" in name:
        raise ConfigError(f"{where}: '{name}' is not a valid name; use letters, digits, '-', '_' or '.'")
    return name
