"""Batched generation for HFLM with a KV-cached decode loop that reuses the shared prompt prefix.

Layout of one batch (P = shared prefix, cached once; pads sit *between* prefix and suffix):

    keys:     [ prefix (P) | pad pad s0 s1 s2 | g0 g1 ... ]     row b, left-padded to T
    position:   0 .. P-1   |  -   -  P P+1 P+2 | P+3 ...        pads take no position

Pads are masked out for every real query, so each row computes exactly what it would alone
(same tokens, same positions). A pad query may attend to itself, so no softmax row is empty
(an all-masked row gives NaN, which would leak into the pads' keys and values).

Greedy rows take the argmax. Sampled rows draw from softmax(logits / temperature) with their own
torch.Generator seeded from (request seed, sequence number), so a result does not depend on which
other rows shared its batch. A row stops at EOS, at a stop string, or after max_new_tokens.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from promptsearch.lm import plan
from promptsearch.lm.base import GenerateRequest, GenerateResult, TokenLogprob

StepHook = Callable[[list[GenerateRequest]], list[bool]]
_hooks = threading.local()


@contextmanager
def watch(hook: StepHook) -> Iterator[None]:
    """Within the block, this thread's decode loops call `hook(requests of the live rows)` before
    every step; a row whose flag comes back True stops there (serve drops a request whose client
    left or whose wall time is up). The hook may itself generate (nested calls restore theirs)."""
    before = getattr(_hooks, "hook", None)
    _hooks.hook = hook
    try:
        yield
    finally:
        _hooks.hook = before


@dataclass(kw_only=True)
class GenRow:
    req: GenerateRequest
    index: int  # request index
    seq: int  # which of the request's num_return_sequences (seeds its sampler)
    tokens: list[int]
    out: list[int] = field(default_factory=list)  # generated ids
    logps: list[float] = field(default_factory=list)  # their log-probs (temperature 1)
    ends: list[int] = field(default_factory=list)  # len(decoded text) after each generated token
    tops: list[dict[str, float]] = field(default_factory=list)  # req.top_logprobs alternatives per token
    text: str = ""
    done: bool = False


def generate(lm, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
    rows: dict[tuple, GenRow] = {}  # greedy duplicates (same tokens and limits) are decoded once
    slots: list[list[GenRow]] = []  # request -> its num_return_sequences rows
    for i, r in enumerate(requests):
        bos = lm.tokenizer.bos_token_id
        ids = lm.tok_encode(r.context) or [bos if bos is not None else lm.tokenizer.eos_token_id]
        ids = ids[-max(1, lm.max_length - r.max_new_tokens):]  # left-truncate to leave room
        keys = [("greedy", tuple(ids), r.max_new_tokens, r.stop, r.top_logprobs) if r.temperature <= 0
                else ("sample", i, k)
                for k in range(r.num_return_sequences)]
        slots.append([rows.setdefault(key, GenRow(req=r, index=i, seq=k, tokens=ids)) for k, key in enumerate(keys)])
    todo = list(rows.values())
    stubs = [plan.Row(r.tokens, need=len(r.tokens) - 1) for r in todo]  # need the last position
    row_of = {id(s): r for s, r in zip(stubs, todo)}
    for p, group in plan.prefix_groups(stubs):
        kv = lm.prefix_kv(group[0].tokens[:p])
        grows = [row_of[id(s)] for s in group]
        cost = [len(r.tokens) - p + r.req.max_new_tokens for r in grows]
        # every decode step of a batch has a fixed cost too (~8 token-equivalents on a CPU)
        overhead = lm.batch_overhead + 8 * max(r.req.max_new_tokens for r in grows)
        for idx in plan.buckets(cost, lm.batch_size, lm.max_batch_tokens, overhead):
            # with_backoff calls it before the loop moves on, so kv and p are this group's
            lm.with_backoff(lambda b: _decode_batch(lm, kv, p, b), [grows[i] for i in idx])  # noqa: B023
    done = {id(r): _finish(lm, r) for r in todo}
    return [GenerateResult([done[id(r)][0] for r in s], [done[id(r)][1] for r in s],
                           _tokens(lm, s[0], len(done[id(s[0])][0])) if s[0].req.top_logprobs else [])
            for s in slots]


def _decode_batch(lm, kv, p: int, rows: list[GenRow]) -> None:
    """Prefill the rows' suffixes after the cached prefix, then decode one token per step."""
    for r in rows:  # a retried (OOM) batch starts over
        r.out, r.logps, r.ends, r.tops, r.text, r.done = [], [], [], [], "", False
    dev, b = lm.device, len(rows)
    t = max(len(r.tokens) - p for r in rows)
    ids = torch.full((b, t), lm.pad_id, dtype=torch.long)
    real = torch.zeros(b, t, dtype=torch.bool)  # [B, T] which suffix slots hold tokens
    for i, r in enumerate(rows):
        n = len(r.tokens) - p
        ids[i, t - n:] = torch.tensor(r.tokens[p:])
        real[i, t - n:] = True
    pos = (p + real.long().cumsum(-1) - 1).clamp(min=p)  # [B, T] pads share a dummy position
    valid = torch.cat([torch.ones(b, p, dtype=torch.bool), real], 1).to(dev)  # [B, P+T] keys to see
    causal = torch.ones(t, p + t, dtype=torch.bool, device=dev).tril(p)  # [T, P+T]
    diag = torch.zeros_like(causal)
    diag[:, p:].fill_diagonal_(True)  # a pad query sees itself: no empty softmax rows
    mask = (valid[:, None, :] & causal) | diag  # [B, T, P+T]
    hidden, cache = lm.hidden_states(kv, ids.to(dev), keep_cache=True, attention_mask=mask[:, None],
                               position_ids=pos.to(dev))
    h, pos = hidden[:, -1], pos[:, -1].to(dev)  # [B, d_model] last real token of each row, [B]
    live = list(range(b))  # rows still decoding, in batch order
    gens = [_generator(r, dev) for r in rows]
    for _ in range(max(r.req.max_new_tokens for r in rows)):
        nxt = _pick(lm, h, [rows[i] for i in live], [gens[i] for i in live])  # [B_live]
        _stop_cancelled(rows, live)
        keep = [j for j, i in enumerate(live) if not rows[i].done]
        if not keep:
            break
        if len(keep) < len(live):  # drop finished rows from the cache and the batch
            sel = torch.tensor(keep, device=dev)
            cache.batch_select_indices(sel)
            valid, nxt, pos = valid[sel], nxt[sel], pos[sel]
            live = [live[j] for j in keep]
        valid = torch.cat([valid, valid.new_ones(len(live), 1)], 1)  # [B_live, L+1]
        pos = pos + 1
        out = lm.base(input_ids=nxt[:, None], attention_mask=valid[:, None, None, :],
                      position_ids=pos[:, None], cache=cache, use_cache=True)
        h = out.last_hidden_state[:, -1]


def _stop_cancelled(rows: list[GenRow], live: list[int]) -> None:
    hook = getattr(_hooks, "hook", None)
    if hook is not None:
        for i, stop in zip(live, hook([rows[i].req for i in live])):
            rows[i].done = rows[i].done or stop


def _generator(row: GenRow, dev) -> torch.Generator | None:
    if row.req.temperature <= 0:
        return None
    g = torch.Generator(device=dev)
    g.manual_seed((row.req.seed * 0x9E3779B1 + row.seq) % (2**63))
    return g


def _pick(lm, h: torch.Tensor, rows: list[GenRow], gens: list) -> torch.Tensor:
    """Choose each live row's next token from hidden states h [B, d_model]; update the rows."""
    logp = F.log_softmax(lm.logits(h), dim=-1)  # [B, vocab] fp32
    nxt = logp.argmax(-1)  # [B]
    for i, (r, g) in enumerate(zip(rows, gens)):
        if g is not None:
            probs = F.softmax(logp[i] / r.req.temperature, dim=-1)
            nxt[i] = torch.multinomial(probs, 1, generator=g)[0]
    eos = _eos_ids(lm)
    picked = logp.gather(1, nxt[:, None])[:, 0].tolist()  # [B] log-probs, one host copy
    tops = _tops(lm, logp, rows)
    for r, tok, lp, top in zip(rows, nxt.tolist(), picked, tops):
        if tok in eos:
            r.done = True
            continue
        r.out.append(tok)
        r.logps.append(lp)
        if r.req.top_logprobs:
            r.tops.append(top)
        r.text = lm.tokenizer.decode(r.out, skip_special_tokens=True)
        r.ends.append(len(r.text))
        r.done = len(r.out) >= r.req.max_new_tokens or any(s and s in r.text for s in r.req.stop)
    return nxt


def _tops(lm, logp: torch.Tensor, rows: list[GenRow]) -> list[dict[str, float]]:
    """Each row's req.top_logprobs most likely next tokens {text: log-prob}, best first (a text
    two ids decode to keeps the likelier); empty dicts when no row asked."""
    k = max(r.req.top_logprobs for r in rows)
    if k <= 0:
        return [{} for _ in rows]
    values, ids = logp.topk(min(k, logp.shape[-1]), dim=-1)  # [B, k]
    names = lm.tokenizer.batch_decode(ids.reshape(-1, 1).tolist())
    out = []
    for b, r in enumerate(rows):
        top: dict[str, float] = {}
        for j, v in enumerate(values[b].tolist()[:r.req.top_logprobs]):
            top.setdefault(names[b * ids.shape[1] + j], v)
        out.append(top)
    return out


def _tokens(lm, row: GenRow, cut: int) -> list[TokenLogprob]:
    """The row's generated tokens that lie wholly inside its returned text, with their alternatives."""
    texts = lm.tokenizer.batch_decode([[t] for t in row.out]) if row.out else []
    return [TokenLogprob(text, lp, top) for text, lp, top, end in zip(texts, row.logps, row.tops, row.ends)
            if end <= cut]


def _eos_ids(lm) -> set[int]:
    ids = getattr(lm.model.generation_config, "eos_token_id", None)
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
    if lm.tokenizer.eos_token_id is not None:
        ids.add(lm.tokenizer.eos_token_id)
    return ids


def _finish(lm, row: GenRow) -> tuple[str, float]:
    """Text cut before the first stop string; log-prob of the tokens that lie wholly inside it."""
    cut = min([row.text.find(s) for s in row.req.stop if s and s in row.text] + [len(row.text)])
    text, total = row.text[:cut], 0.0
    for lp, end in zip(row.logps, row.ends):
        if end > cut:
            break
        total += lp
    return text, total
