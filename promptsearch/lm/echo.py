"""The log-prob of every token of a prompt ("echo"), for `promptsearch serve`'s /v1/completions.

A client scoring labels remotely (completions.py) sends context + label as one prompt and reads
back every prompt token's log-prob. Per call, prompts are encoded like HFLM.loglikelihood, and:

    ids     [t0 t1 ... t(n-1)]            input = ids[:-1]: the last position's output is never read
    groups  rows sharing a token prefix P (plan.prefix_groups; each row keeps >= 1 own token)
    prefix  run once: its hidden states [1, P, d] give the log-probs of t1..t(P-1), shared by the
            group, and of each row's own t(P); its KV cache is reused by the suffixes
    suffix  rows right-padded into batches [B, T] (plan.buckets); causal attention keeps the pads
            after a row's last token out of its outputs; outputs predict t(P+1)..t(n-1)

so a label task (every example's two prompts share its context, every context shares the
instruction and demos) runs the shared prompt once, like the in-process engine. Rows with the same
input (prompts that differ only in their last token: one-token labels) are run once. The LM head
runs on every position (every token's log-prob is returned): one head call per batch over its
real positions, log-probs as logit - logsumexp.

Offsets: `text_offset` of token j is where token j-1 ended in the prompt (0 for the first), and
`tokens[j]` the text up to its own end, so "".join(tokens) == prompt even where a character is
split over several byte-level tokens (those get "" after the first).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from promptsearch.lm import plan
from promptsearch.lm.kv import KV

HEAD_ROWS = 512  # positions per LM-head chunk: [512, vocab] fp32 is ~100 MB for a 49k vocabulary


@dataclass
class Echo:
    """One prompt's tokens (texts), character offsets, log-probs (None for the first token), and
    per position the `top` most likely tokens {text: log-prob} (None for the first)."""

    tokens: list[str]
    offsets: list[int]
    logprobs: list[float | None]
    top: list[dict[str, float] | None] = field(default_factory=list)


def prompt_logprobs(lm, prompts: list[str], top: int = 0) -> list[Echo]:
    """Echo every prompt; `lm` is an HFLM (its engine steps are used as generation.py does)."""
    encoded = [_encode(lm, p) for p in prompts]
    rows: dict[tuple[int, ...], plan.Row] = {}  # distinct inputs
    targets: dict[int, list[int]] = {}  # id(row) -> the token each input position predicts
    for ids, _ in encoded:
        if len(ids) > 1 and tuple(ids[:-1]) not in rows:
            n = min(len(ids) - 1, lm.max_length)  # left-truncated like lm-eval
            row = rows[tuple(ids[:-1])] = plan.Row(ids[:-1][-n:], need=n - 1)
            targets[id(row)] = ids[1:][-n:]
    # id(row) -> (log-prob [n], top ids [n, k], top log-probs [n, k]) for input positions 0..n-1,
    # and the last position's log-softmax [vocab]: prompts that differ only in their last token
    # share the row, and each reads its own last token there
    scored: dict[int, tuple[torch.Tensor, ...]] = {}
    with torch.inference_mode():
        for p, group in plan.prefix_groups(list(rows.values())):
            _score_group(lm, p, group, targets, max(1, top), scored)
    return [_assemble(lm, ids, spans, prompt, scored.get(id(rows.get(tuple(ids[:-1])))), top)
            for (ids, spans), prompt in zip(encoded, prompts)]


def _encode(lm, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids as HFLM encodes them, with each token's (start, end) in `text`."""
    enc = lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, spans = list(enc["input_ids"]), [tuple(s) for s in enc["offset_mapping"]]
    if ids != lm.tok_encode(text):  # a BOS the tokenizer adds by itself: no text of its own
        ids, spans = [lm.tokenizer.bos_token_id, *ids], [(0, 0), *spans]
    return ids, spans


def _score_group(lm, p: int, group: list[plan.Row], targets: dict, k: int, scored: dict) -> None:
    """Log-probs of every input position of the rows in `group`, whose first p tokens are shared."""
    kv = None
    if p:
        cache = DynamicCache(config=lm.model.config)
        hidden = lm.base(input_ids=torch.tensor([group[0].tokens[:p]], device=lm.device), cache=cache,
                         use_cache=True).last_hidden_state[0]  # [P, d_model]
        kv = KV([(layer.keys, layer.values) for layer in cache.layers], p)  # type: ignore[union-attr,misc]
        logits, lse = _head(lm, hidden)  # [P, vocab], [P]; position P-1 predicts each row's token P
        shared = torch.tensor(targets[id(group[0])][:p - 1], device=lm.device, dtype=torch.long)
        shared_lp = logits[:p - 1].gather(1, shared[:, None])[:, 0] - lse[:p - 1]  # [P-1]
        prefix_top = _top(logits, lse, k)  # ([P, k], [P, k])
        last = logits[p - 1] - lse[p - 1]  # [vocab]
    lengths = [len(r.tokens) - p for r in group]
    for idx in plan.buckets(lengths, lm.batch_size, lm.score_tokens, lm.batch_overhead):
        batch = [group[i] for i in idx]
        ids = torch.full((len(batch), max(lengths[i] for i in idx)), lm.pad_id, dtype=torch.long)
        for b, r in enumerate(batch):
            ids[b, :len(r.tokens) - p] = torch.tensor(r.tokens[p:])
        hidden, _ = lm.hidden_states(kv, ids.to(lm.device))  # [B, T, d_model]; pads only after a row
        n = [len(r.tokens) - p for r in batch]
        real = torch.cat([hidden[b, :m] for b, m in enumerate(n)])  # [sum(n), d_model]: one head call
        logits, lse = _head(lm, real)  # [sum(n), vocab], [sum(n)]
        want = torch.tensor([t for r in batch for t in targets[id(r)][p:]], device=lm.device)
        lp_all = logits.gather(1, want[:, None])[:, 0] - lse  # [sum(n)]
        top_lp, top_id = _top(logits, lse, k)  # [sum(n), k]
        ends = torch.tensor(n).cumsum(0).tolist()
        for b, r in enumerate(batch):
            lo, hi = ends[b] - n[b], ends[b]
            lp, best_lp, best_id = lp_all[lo:hi], top_lp[lo:hi], top_id[lo:hi]
            if p:
                lp = torch.cat([shared_lp, last[targets[id(r)][p - 1]].reshape(1), lp])
                best_lp, best_id = torch.cat([prefix_top[0], best_lp]), torch.cat([prefix_top[1], best_id])
            # the last position's row predicts the last token of every prompt sharing this row
            scored[id(r)] = (lp.cpu(), best_id.cpu(), best_lp.cpu(), (logits[hi - 1] - lse[hi - 1]).cpu())


def _head(lm, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LM head on hidden states [N, d_model]: fp32 logits [N, vocab] (in chunks of HEAD_ROWS) and
    their logsumexp [N]. log-prob = logit - logsumexp: no second [N, vocab] tensor."""
    logits = torch.cat([lm.logits(hidden[i:i + HEAD_ROWS]) for i in range(0, hidden.shape[0], HEAD_ROWS)])
    return logits, logits.logsumexp(-1)


def _top(logits: torch.Tensor, lse: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k most likely tokens per row: (log-probs [N, k], ids [N, k])."""
    if k == 1:
        value, index = logits.max(-1)
        return (value - lse)[:, None], index[:, None]
    value, index = logits.topk(k, dim=-1)
    return value - lse[:, None], index


def _assemble(lm, ids: list[int], spans: list, prompt: str, scored, top: int) -> Echo:
    tokens, offsets, end = [], [], 0
    for _, b in spans:
        offsets.append(end)
        tokens.append(prompt[end:max(end, b)])
        end = max(end, b)
    logprobs: list[float | None] = [None] * len(ids)
    tops: list[dict[str, float] | None] = [None] * len(ids)
    if scored is not None:
        lp, best_id, best_lp, last = scored
        n = lp.shape[0]  # left-truncated inputs score only the last max_length tokens
        for j, v in enumerate(lp.tolist()):
            logprobs[len(ids) - n + j] = v
        logprobs[-1] = float(last[ids[-1]])
        if top:
            names = lm.tokenizer.batch_decode(best_id.reshape(-1, 1).tolist())
            values = best_lp.reshape(-1).tolist()
            for j in range(n):
                pos = len(ids) - n + j
                alts = {names[j * top + k]: values[j * top + k] for k in range(top)}
                tops[pos] = {tokens[pos]: logprobs[pos], **alts}
    return Echo(tokens, offsets, logprobs, tops if top else [])
