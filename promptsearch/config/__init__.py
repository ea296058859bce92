"""Parsing of task files and search spaces (the lowest layer: imports nothing of ours but errors)."""
from promptsearch.config.space import SpaceSpec, load_space
from promptsearch.config.task import TaskSpec, load_task

__all__ = ["SpaceSpec", "TaskSpec", "load_space", "load_task"]
