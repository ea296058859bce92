"""The allowed range of every integer a user gives (flags, API arguments, YAML numbers), checked
where it is parsed, before any work: a value out of range is a one-line error, never an
OverflowError or a MemoryError minutes later. docs/errors.md lists the ranges."""
from __future__ import annotations

from typing import Any

from promptsearch.errors import ConfigError, excerpt

SEED_MAX = 2**32 - 1  # numpy and Optuna seeds are 32-bit

LIMITS: dict[str, tuple[int, int]] = {
    "seed": (0, SEED_MAX),
    "trials": (1, 1_000_000),
    "workers": (1, 256),
    "concurrency": (1, 1024),  # remote models: requests in flight at once
    "dev_limit": (1, 1_000_000_000),
    "limit": (1, 1_000_000_000),
    "batch_size": (1, 4096),
    "chunk_size": (1, 1_000_000),
    "parallel_candidates": (1, 256),  # trials asked, scored and told as one batch
    "max_new_tokens": (1, 8192),
    "max_tokens": (1, 32768),
    "resamples": (1, 100_000),
    "top": (1, 10_000),
    "select_top": (1, 10_000),  # candidates re-scored on a selection split (search/selection.py)
    "race_start": (1, 1_000_000),  # examples in a race's first rung (search/racing.py)
    "trial": (0, 1_000_000_000),  # a trial number (show --examples --trial, compare, run --trial)
    "heartbeat": (1, 3600),
    "grace": (1, 7 * 24 * 3600),
    "port": (1, 65535),
    "any_port": (0, 65535),  # serve: 0 picks a free port
    "request_timeout": (1, 24 * 3600),  # serve: seconds one request may take
    "budget_calls": (1, 10**12),  # optimize --budget calls=N
    "budget_tokens": (1, 10**15),  # optimize --budget tokens=N (prompt + generated)
}

# Sizes of inputs, checked by counting before any tokenizer or model sees them (issue 25):
MAX_LABELS = 256  # a label task scores every label per example: time and memory grow with the count
MAX_FIELD_CHARS = 1_000_000  # characters in one field of one example (no local context holds more)

# Numbers that may have a fractional part: (lowest, highest), both allowed.
FLOAT_LIMITS: dict[str, tuple[float, float]] = {
    "budget_seconds": (1.0, 366 * 24 * 3600.0),  # optimize --budget seconds=S (a year at most)
    "budget_dollars": (0.0001, 1_000_000.0),  # optimize --budget dollars=D (remote models)
}


def check_int(where: str, value: Any, kind: str) -> int:
    """`value` as an int within LIMITS[kind]; ConfigError naming `where` otherwise."""
    low, high = LIMITS[kind]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer from {low} to {high}, got {excerpt(value)}")
    if value < low:
        raise ConfigError(f"{where} must be at least {low}, got {excerpt(value)}")
    if value > high:
        raise ConfigError(f"{where} must be at most {high}, got {excerpt(value)}")
    return value


def check_float(where: str, value: Any, kind: str) -> float:
    """`value` as a finite float within FLOAT_LIMITS[kind]; ConfigError naming `where` otherwise."""
    low, high = FLOAT_LIMITS[kind]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
            or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{where} must be a number from {low:g} to {high:g}, got {excerpt(value)}")
    if value < low:
        raise ConfigError(f"{where} must be at least {low:g}, got {excerpt(value)}")
    if value > high:
        raise ConfigError(f"{where} must be at most {high:g}, got {excerpt(value)}")
    return float(value)
