"""The instruction pool as Optuna parameters: categories, never an ordered number.

The pool is the space's seed instructions followed by the proposals accepted so far, and it grows
during the search. It used to be sampled as one integer index (`suggest_int("instruction", 0,
size - 1)`), because a categorical's choices are fixed for the life of a study; but TPE then
models the index as a number, and proposal 7 looks "near" proposal 8 although the two texts have
nothing in common.

Here the pool is split into groups whose membership never changes once they exist: the seeds, and
the accepted proposals of each round (a round's proposals are stored in one transaction, so its
group is complete the moment it appears). Each group is one categorical over its own pool indices,
named after the group, so its choices are fixed for the study's life:

    instruction_seed          choices [0, 1, 2]      (pool indices of the seeds)
    instruction_proposal_0    choices [3, 4, 5, 6]   (round 0's accepted proposals)
    instruction_proposal_1    choices [7, 8]         ...

Which group a trial draws from is one more categorical, `instruction_origin_<k>`, over the first
`k` groups ("seed", "proposal_0", ...). Its name carries `k` because the set of groups grows: a
new round makes a new origin parameter (TPE learns it afresh), while what was learned about each
group's instructions carries over. Nothing in this layout has an order: categorical TPE models
each choice on its own. (Features of the text -- an embedding, its length -- would let TPE
generalise across instructions, but a 135M model's proposals are too few and too noisy for that
to pay for an embedding per trial; categories need nothing and assume nothing.)

A trial enqueued for a proposal fixes its group and origin parameters; it also records the `k` it
was made for (user attribute `instruction_groups`), so it still draws the enqueued proposal if
another round has added a group before it ran.

The candidate's own parameters keep `instruction` (the pool index: what rebuilds the prompt) and
add `instruction_origin`. Searches stored before this change sampled `instruction` as an integer
(and may have trials queued with it): their stored propose block has no `pool_layout`, which reads
as "integer", so they resume exactly as they ran. `pool_index` reads both layouts.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import optuna

SEED = "seed"
GROUPS_ATTR = "instruction_groups"  # user attribute of an enqueued trial: the k it was made for
_GROUP_PARAM = re.compile(r"^instruction_(seed|proposal_\d+)$")


def round_origin(rnd: int) -> str:
    return f"proposal_{rnd}"


def group_param(origin: str) -> str:
    return f"instruction_{origin}"


def origin_param(k: int) -> str:
    return f"instruction_origin_{k}"


def groups(origins: Sequence[str]) -> list[tuple[str, list[int]]]:
    """(origin, pool indices) per group, in order of first appearance. origins[i]: where pool entry
    i came from ("seed" or "proposal_<round>")."""
    out: dict[str, list[int]] = {}
    for i, origin in enumerate(origins):
        out.setdefault(origin, []).append(i)
    return list(out.items())


def suggest_pool(trial: optuna.Trial, origins: Sequence[str]) -> tuple[int, str]:
    """(pool index, origin) for the trial: an origin among the groups, then an instruction of it."""
    offered = groups(origins)
    wanted = trial.user_attrs.get(GROUPS_ATTR)
    if isinstance(wanted, int) and 1 <= wanted <= len(offered):
        offered = offered[:wanted]  # enqueued for an older pool: ask the names it fixed
    if len(offered) == 1:
        origin = offered[0][0]
    else:
        origin = trial.suggest_categorical(origin_param(len(offered)), [o for o, _ in offered])
    indices = dict(offered)[origin]
    return trial.suggest_categorical(group_param(origin), indices), origin


def enqueue_point(origins: Sequence[str], index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params, user_attrs) that make an enqueued trial use pool entry `index`."""
    offered = groups(origins)
    origin = origins[index]
    params: dict[str, Any] = {group_param(origin): index}
    if len(offered) > 1:
        params[origin_param(len(offered))] = origin
    return params, {GROUPS_ATTR: len(offered)}


def is_pool_param(name: str) -> bool:
    """Any parameter that says which instruction a trial used (old or new layout)."""
    return name == "instruction" or name.startswith("instruction_origin_") or bool(_GROUP_PARAM.match(name))


def pool_index(params: Mapping[str, Any]) -> int:
    """The pool index an Optuna trial's params chose: `instruction` (a fixed pool, or a search
    stored before the categorical layout), else its group parameter; 0 when none was sampled."""
    if "instruction" in params:
        return int(params["instruction"])
    for name, value in params.items():
        if _GROUP_PARAM.match(name):
            return int(value)
    return 0
