"""Plug-ins: modules outside promptsearch that register metrics, strategies, samplers, export
formats, LM backends or proposal methods (docs/extending.md).

A plug-in module is named once, in any of three ways, and every command, every worker process
and every resume then imports it before it reads a flag, a task file or a stored search:

  an entry point   an installed package declares it in the group `promptsearch.plugins`
                   (pyproject.toml: [project.entry-points."promptsearch.plugins"] mine = "my_pkg.plug")
  --plugin MODULE  on any command (repeatable)
  $PROMPTSEARCH_PLUGINS  comma-separated module names (worker processes inherit it)

A search stores the plug-in modules that were loaded when it was made (`record`), and `resume`,
`worker` and `eval` import them again (`require`), or refuse with one line naming the module that
cannot be imported. A module is looked up on sys.path, then in the current folder, so a plug-in
file next to the task file works with the installed `promptsearch` command as with `python -m`.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from promptsearch.errors import UserError, excerpt

ENTRY_POINT_GROUP = "promptsearch.plugins"
ENV_VAR = "PROMPTSEARCH_PLUGINS"
USER_ATTR = "plugins"  # the study user attribute that lists a search's plug-in modules

log = logging.getLogger("promptsearch.plugins")
_loaded: dict[str, None] = {}  # module names in load order (imports are process-wide, and so is this)


class PluginError(UserError):
    """A plug-in module that cannot be imported (or raised while registering)."""


def from_env() -> list[str]:
    return [m.strip() for m in os.environ.get(ENV_VAR, "").split(",") if m.strip()]


def load(modules: Iterable[str] = (), *, entry_points_too: bool = True) -> tuple[str, ...]:
    """Import the installed entry points, then $PROMPTSEARCH_PLUGINS, then `modules` (--plugin);
    each once. Returns every plug-in module loaded in this process so far."""
    if entry_points_too:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            _import(ep.module, f"entry point '{ep.name}' ({ENTRY_POINT_GROUP})")
    for name in from_env():
        _import(name, f"${ENV_VAR}")
    for name in modules:
        _import(name, "--plugin")
    return loaded()


def loaded() -> tuple[str, ...]:
    """The plug-in modules loaded in this process, in load order."""
    return tuple(_loaded)


def record(study: Any, used: Iterable[object] = ()) -> list[str]:
    """Store with a new search (its Optuna study's user attributes) the plug-ins loaded here and
    the modules outside promptsearch that define what it `used` (its metric, strategies, ...: a
    module a Python API user imported by hand counts too), so every later command imports them."""
    modules = dict(_loaded)
    for obj in used:
        module = getattr(obj, "__module__", None)
        if isinstance(module, str) and module.partition(".")[0] not in ("promptsearch", "__main__", "builtins"):
            modules[module] = None
    if modules:
        study.set_user_attr(USER_ATTR, list(modules))
    return list(modules)


def stored(study: Any) -> list[str]:
    value = study.user_attrs.get(USER_ATTR) or []
    return [m for m in value if isinstance(m, str)]


def require(study: Any, search: str) -> None:
    """Import the plug-ins the search was made with; a one-line PluginError naming the first that
    cannot be imported here."""
    for name in stored(study):
        if name in _loaded:
            continue
        try:
            _import(name, f"search '{search}'")
        except PluginError as e:
            raise PluginError(f"search '{search}' needs plug-in module '{name}', which cannot be imported here "
                              f"({e.__cause__ or e}); install it or put it on PYTHONPATH (or in this folder), "
                              f"then run again") from e.__cause__


def _import(name: str, where: str) -> None:
    if not isinstance(name, str) or not name or not all(p.isidentifier() for p in name.split(".")):
        raise PluginError(f"{where}: '{excerpt(str(name))}' is not a module name (e.g. my_metrics or "
                          f"my_package.plugin)")
    if name in _loaded:
        return
    try:
        _import_module(name)
    except ModuleNotFoundError as e:
        raise PluginError(f"{where}: cannot import plug-in module '{name}': {e}") from e
    except UserError:
        raise
    except Exception as e:  # its own code failed while registering: say which module, not a traceback
        raise PluginError(f"{where}: plug-in module '{name}' failed while importing: "
                          f"{type(e).__name__}: {excerpt(str(e), 200)}") from e
    _loaded[name] = None
    log.info("loaded plug-in module %s (%s)", name, where)


def _import_module(name: str) -> None:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        top = name.split(".")[0]
        cwd = os.getcwd()
        if e.name != top or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)  # the installed console script does not look in the current folder
        importlib.import_module(name)
