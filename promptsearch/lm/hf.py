"""HFLM: the LM interface over a local Hugging Face causal LM, built for prompt search.

A prompt-search call scores one candidate prompt on many examples, so most of every input is the
same instruction + demonstrations. The engine (see plan.py for the bookkeeping):

  1. tokenizes like lm-evaluation-harness and turns requests into rows (one pass per context:
     all one-token labels of an example are read from the same output position);
  2. runs the rows' longest common *token* prefix once, keeping its KV cache;
  3. runs only each row's own suffix, attending to the cached prefix, expanded over the batch as a
     view: the attention reads it, nothing writes it, so batch after batch reuses the same tensors;
  4. applies the LM head only at the positions whose log-probs are needed.

Suffixes are packed end to end into lanes (plan.pack), one model row per lane:

    keys:      [ prefix (P) | a0 a1 a2 a3 | b0 b1 | pad ]    lane = suffixes a, b, right-padded
    position:    0 .. P-1   | P ...   P+3 | P P+1 | ...      each suffix restarts at P

and a block-causal mask lets each suffix see the prefix and its own earlier tokens only, so every
token computes exactly what it would alone, without the ~8% padding of length-sorted batches.
Models whose attention cannot take such a mask (a self-check at load: sliding windows, flash
kernels) get one suffix per lane, right-padded, with no mask: with causal attention a real token
never sees the pads after it. Grouped-query attention stays grouped on CPU (attention.py).

Tokens: encoded with the tokenizer's defaults, like lm-eval (no BOS unless the tokenizer adds one
by itself; SmolLM2's does not), prefix and all. Everything runs under torch.inference_mode.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from promptsearch.lm import attention, plan
from promptsearch.lm.base import LM, GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult
from promptsearch.lm.kv import KV
from promptsearch.lm.usage import UsageCounter

log = logging.getLogger(__name__)


LOGLIK_CHUNK = 1024  # (context, continuation) pairs planned and scored together at most


class HFLM(LM):
    """A transformers causal LM (`AutoModelForCausalLM`) and its tokenizer behind the LM interface.

    batch_size: model rows (lanes of packed suffixes; generation: sequences) per forward pass;
    max_batch_tokens: padded suffix tokens per pass (default batch_size * 256; scoring on a CPU
    uses at most 1024). Both are halved when CUDA runs out of memory.
    """

    def __init__(self, model, tokenizer, *, name: str, batch_size: int = 32,
                 max_batch_tokens: int | None = None, fingerprint: str | None = None):
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self._fingerprint = fingerprint or name  # load_lm passes the weights' digest
        self.batch_size = max(1, batch_size)
        self.max_batch_tokens = max_batch_tokens or self.batch_size * 256
        self.base = model.base_model  # the transformer stack without the LM head
        self.head = model.get_output_embeddings()
        self.device = next(model.parameters()).device
        # fixed cost of a forward pass in token-equivalents, for choosing batch cuts (plan.buckets)
        self.batch_overhead = 64 if self.device.type == "cpu" else 1024
        # Scoring forwards on a CPU stay near 1k tokens: a layer's activations ([T, 1536] fp32 for
        # SmolLM2's MLP, ~6 MB) then stay in cache; 2k-token forwards ran ~6% slower in
        # benchmarks/scoring.py. GPUs take the full max_batch_tokens.
        self.score_tokens = 1024 if self.device.type == "cpu" else self.max_batch_tokens
        # A call with several prefix groups (--parallel-candidates: several prompts) batches the
        # lanes of all groups together on a GPU, so k small dev sets fill one big forward. A CPU
        # gains nothing from bigger forwards and keeps one group at a time (measured:
        # benchmarks/parallel.py).
        self.merge_groups = self.device.type != "cpu"
        self.load_info: dict = {}
        # Work counters (tokens through the transformer, LM-head rows, attention query-key pairs);
        # read by the benchmark for FLOP counts and by tests to see the prefix ran once.
        self.stats: Counter[str] = Counter()
        cfg = model.config.get_text_config()
        self._softcap = getattr(cfg, "final_logit_softcapping", None)
        self._bos_default = self._adds_bos()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._check_head()
        attention.use_grouped_sdpa(model)  # faster masked attention on CPU, same arithmetic
        self.packs = self._check_packing()
        self.stats.clear()  # the checks' work is not the caller's
        self._usage = UsageCounter()  # calls and tokens as an API would bill them (lm/usage.py)

    # ------------------------------------------------------------------ the LM interface

    @property
    def max_length(self) -> int:
        cfg = self.model.config.get_text_config()
        n = getattr(cfg, "max_position_embeddings", None) or 2048
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        return min(n, tok_max) if tok_max and tok_max < 10**7 else n

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def usage(self) -> dict[str, float]:
        """Totals since load (lm/usage.py): calls, prompt and completion tokens, seconds."""
        return self._usage.snapshot()

    def count_tokens(self, text: str) -> int:
        return len(self.tok_encode(text))

    def continuation_ids(self, context: str, continuation: str) -> list[int]:
        return plan.encode_pair(self.tok_encode, context, continuation, [self.pad_id])[1]

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise NotImplementedError(f"{self.name} has no chat template")
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def tok_encode(self, text: str) -> list[int]:
        """Token ids as the tokenizer encodes them by default (BOS only if it adds one itself)."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        bos = self.tokenizer.bos_token
        if self._bos_default and text and not (bos and text.startswith(bos)):
            ids = [self.tokenizer.bos_token_id, *ids]
        return ids

    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        empty = [self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None
                 else self.tokenizer.eos_token_id]
        pairs = [plan.encode_pair(self.tok_encode, r.context, r.continuation, empty) for r in requests]
        with self._usage.timed():
            # Bounded chunks: the plan, caches and lanes of one call never grow with the number of
            # requests (a label task sends examples x labels); results are exact across chunks.
            out = [res for at in range(0, len(pairs), LOGLIK_CHUNK)
                   for res in self._loglikelihood(pairs[at:at + LOGLIK_CHUNK])]
        self._usage.add(calls=len(requests), prompt_tokens=sum(len(c) + len(t) for c, t in pairs))
        return out

    def _loglikelihood(self, pairs: list[tuple[list[int], list[int]]]) -> list[LoglikelihoodResult]:
        """One result per (context ids, continuation ids) pair: the engine of the module docstring."""
        out: list[LoglikelihoodResult] = [LoglikelihoodResult(0.0, 0, True)] * len(pairs)
        rows = plan.plan_rows(pairs, self.max_length)
        groups = plan.prefix_groups(rows)
        if self.merge_groups and self.packs and len(groups) > 1:
            self._score_merged(groups, out)
            return out
        for p, group in groups:
            kv = self.prefix_kv(group[0].tokens[:p])
            lanes = self._lanes(p, group)
            lane_len = [sum(len(r.tokens) - p for r in lane) for lane in lanes]
            for idx in plan.buckets(lane_len, self.batch_size, self._budget, self.batch_overhead):
                # with_backoff calls it before the loop moves on, so kv and p are this group's
                self.with_backoff(lambda b: self._score_batch(kv, p, b, out), [lanes[j] for j in idx])  # noqa: B023
        return out

    def echo(self, prompts: list[str], top: int = 0) -> list:
        """Every prompt token's log-prob and offset, for `serve`'s /v1/completions (echo.py)."""
        from promptsearch.lm.echo import prompt_logprobs

        return prompt_logprobs(self, prompts, top)

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        from promptsearch.lm.generation import generate

        with self._usage.timed():
            out = generate(self, requests)
        self._usage.add(calls=sum(r.num_return_sequences for r in requests),
                        prompt_tokens=sum(r.num_return_sequences * self._context_tokens(r.context) for r in requests),
                        completion_tokens=sum(self.count_tokens(t) for res in out for t in res.texts))
        return out

    def _context_tokens(self, context: str) -> int:
        return max(1, min(len(self.tok_encode(context)), self.max_length))

    # ------------------------------------------------------------------ the engine
    # prefix_kv, hidden_states, logits and with_backoff are the engine's steps that batched
    # generation (generation.py) shares with scoring; the underscored methods are scoring's own.

    def prefix_kv(self, prefix: list[int]) -> KV | None:
        """Run the shared prefix once; its per-layer keys/values, [1, n_kv_heads, P, head_dim]."""
        if not prefix:
            return None
        cache = DynamicCache(config=self.model.config)
        ids = torch.tensor([prefix], device=self.device)
        self.base(input_ids=ids, cache=cache, use_cache=True)
        self.stats.update(prefixes=1, prefix_tokens=len(prefix), attn_pairs=len(prefix) * (len(prefix) + 1) // 2)
        # every layer of a DynamicCache filled by a forward pass holds keys and values
        return KV([(layer.keys, layer.values) for layer in cache.layers], len(prefix))  # type: ignore[union-attr,misc]

    def _expand(self, kv: KV | None, batch: int) -> DynamicCache | None:
        """A fresh cache whose layers hold the prefix as expand() views [B, n_kv_heads, P, head_dim]
        (no copy). DynamicLayer never writes in place: `update` concatenates prefix and new keys
        into a new tensor, and `batch_select_indices` indexes into one, so the shared prefix
        tensors are read, never written, however many batches use them."""
        if kv is None:
            return None
        cache = DynamicCache(config=self.model.config)
        for layer, (k, v) in zip(cache.layers, kv):
            k, v = k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)
            if type(layer) is DynamicLayer:
                layer.lazy_initialization(k, v)
                layer.keys, layer.values = k, v
            else:  # sliding-window and other layers keep extra state: let them copy
                layer.update(k, v)  # type: ignore[union-attr]
                if hasattr(layer, "cumulative_length"):  # tokens seen, not kept: masks start there
                    layer.cumulative_length = kv.length
        return cache

    def hidden_states(self, kv: KV | None, ids: torch.Tensor, keep_cache: bool = False,
                **kw) -> tuple[torch.Tensor, DynamicCache | None]:
        """Final hidden states [B, T, d_model] of suffix tokens `ids` [B, T] after the cached prefix,
        and the cache (prefix + suffix; None if there is no prefix and keep_cache is False)."""
        cache = self._expand(kv, ids.shape[0])
        if cache is None and keep_cache:
            cache = DynamicCache(config=self.model.config)
        out = self.base(input_ids=ids, cache=cache, use_cache=cache is not None, **kw)
        return out.last_hidden_state, cache

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """LM head on selected hidden states [N, d_model] -> fp32 logits [N, vocab]."""
        x = self.head(hidden).float()
        return torch.tanh(x / self._softcap) * self._softcap if self._softcap else x

    @property
    def _budget(self) -> int:
        return min(self.score_tokens, self.max_batch_tokens)  # an OOM lowers the latter

    def _lanes(self, p: int, group: list[plan.Row]) -> list[list[plan.Row]]:
        """A prefix group's rows packed into lanes (one row per lane when packing is off)."""
        lengths = [len(r.tokens) - p for r in group]
        lanes = plan.pack(lengths, max(lengths)) if self.packs else [[i] for i in range(len(group))]
        return [[group[i] for i in lane] for lane in lanes]

    def _score_merged(self, groups: list[tuple[int, list[plan.Row]]], out: list) -> None:
        """Every group's prefix run once; then the lanes of all groups cut into batches together,
        each lane attending to its own group's prefix (merge.py builds the batch's cache)."""
        from promptsearch.lm.merge import merged_cache

        kvs = [self.prefix_kv(group[0].tokens[:p]) for p, group in groups]
        items = [(g, lane) for g, (p, group) in enumerate(groups) for lane in self._lanes(p, group)]
        lane_len = [sum(len(r.tokens) - groups[g][0] for r in lane) for g, lane in items]

        def score(batch: list[tuple[int, list[plan.Row]]]) -> None:
            if len({g for g, _ in batch}) == 1:  # one group: its prefix as a view, no copy
                g = batch[0][0]
                self._score_batch(kvs[g], groups[g][0], [lane for _, lane in batch], out)
                return
            used = sorted({g for g, _ in batch})
            cache = merged_cache(self.model.config, [kvs[g] for g in used], [used.index(g) for g, _ in batch])
            self._score_batch(None, [groups[g][0] for g, _ in batch], [lane for _, lane in batch], out, cache=cache)

        for idx in plan.buckets(lane_len, self.batch_size, self._budget, self.batch_overhead):
            self.with_backoff(score, [items[j] for j in idx])

    def _score_batch(self, kv: KV | None, p: int | list[int], lanes: list[list[plan.Row]], out: list,
                     cache: DynamicCache | None = None) -> None:
        """Score the targets of rows (whose first p tokens are the cached prefix), packed into
        `lanes` (one model row each), into `out`. Lanes of several groups: `p` per lane and the
        `cache` of their prefixes, right-padded to the longest (merge.merged_cache)."""
        ps = p if isinstance(p, list) else [p] * len(lanes)
        ids, kw, at = self._lane_inputs(p, lanes)
        if cache is None:  # one group's prefix (kv) expanded as a view, or no prefix at all
            hidden, _ = self.hidden_states(kv, ids.to(self.device), **kw)  # [B, T, d_model]
        else:
            hidden = self.base(input_ids=ids.to(self.device), cache=cache, use_cache=True, **kw).last_hidden_state
        # Each distinct (lane, position) predicting a continuation token is read once; `tok` lists
        # every (position slot, token) pair to gather, in target order.
        where: dict[tuple[int, int], int] = {}
        slot, tok = [], []
        for r, (b, o) in at:
            for tg in r.targets:
                for j, c in enumerate(tg.cont):
                    slot.append(where.setdefault((b, o + tg.start - ps[b] + j), len(where)))
                    tok.append(c)
        bi, ti = (torch.tensor(x, device=self.device) for x in zip(*where))
        logp = F.log_softmax(self.logits(hidden[bi, ti]), dim=-1)  # [N, vocab], N ~ B for labels
        slot_t, tok_t = torch.tensor(slot, device=self.device), torch.tensor(tok, device=self.device)
        lp = logp[slot_t, tok_t].tolist()  # one gather, one device->host copy
        hit = (logp.argmax(-1)[slot_t] == tok_t).tolist()
        k = 0
        for r, _ in at:
            for tg in r.targets:
                m = len(tg.cont)
                out[tg.index] = LoglikelihoodResult(sum(lp[k:k + m]), m, all(hit[k:k + m]))
                k += m
        n = [(len(r.tokens) - ps[b], ps[b]) for r, (b, _) in at]
        self.stats.update(batches=1, lanes=len(lanes), suffixes=len(at), suffix_tokens=sum(x for x, _ in n),
                          padded_tokens=ids.numel(), head_rows=len(where),
                          attn_pairs=sum(x * q + x * (x + 1) // 2 for x, q in n))

    def _lane_inputs(self, p: int | list[int], lanes: list[list[plan.Row]]) -> tuple[torch.Tensor, dict, list]:
        """Token ids [B, T] of the lanes (suffixes end to end, right-padded); the model keywords
        that keep packed suffixes apart (a block-causal mask [B, 1, T, P+T] and positions [B, T]);
        and each row with its (lane, offset). `p` per lane (lanes of several prefix groups): lane
        b sees the first p[b] of the P = max(p) cached prefix slots, its positions start at p[b]."""
        ps = p if isinstance(p, list) else [p] * len(lanes)
        P = max(ps, default=0)
        lens = [[len(r.tokens) - ps[b] for r in lane] for b, lane in enumerate(lanes)]
        B, T = len(lanes), max(sum(x) for x in lens)
        ids = torch.full((B, T), self.pad_id, dtype=torch.long)
        seg = torch.full((B, T), -1, dtype=torch.long)  # which suffix a slot holds; pads are -1
        pos = torch.arange(T).repeat(B, 1) + torch.tensor(ps)[:, None]  # pads keep a dummy position
        at = []
        for b, lane in enumerate(lanes):
            o, q = 0, ps[b]
            for s, (r, n) in enumerate(zip(lane, lens[b])):
                ids[b, o:o + n] = torch.tensor(r.tokens[q:])
                seg[b, o:o + n], pos[b, o:o + n] = s, torch.arange(q, q + n)
                at.append((r, (b, o)))
                o += n
        if not self.packs:
            return ids, {}, at
        # a query sees its prefix and the earlier slots of its own suffix (pads: other pads, and
        # always themselves, so no softmax row is empty)
        own = (seg[:, :, None] == seg[:, None, :]) & torch.ones(T, T, dtype=torch.bool).tril()  # [B, T, T]
        seen = (torch.arange(P)[None, :] < torch.tensor(ps)[:, None])[:, None, :].expand(B, T, P)  # [B, T, P]
        mask = torch.cat([seen, own], -1)[:, None]  # [B, 1, T, P+T]
        return ids, {"attention_mask": mask.to(self.device), "position_ids": pos.to(self.device)}, at

    def with_backoff(self, fn: Callable[[list], None], batch: list) -> None:
        """Run fn(batch); on out-of-memory halve the batch (and remember the smaller size)."""
        try:
            fn(batch)
        except Exception as e:
            if not is_oom(e) or len(batch) == 1:
                raise
            half = len(batch) // 2
            self.batch_size = max(1, min(self.batch_size, half))
            self.max_batch_tokens = max(1, self.max_batch_tokens // 2)
            log.warning("out of memory on a batch of %d; retrying in halves (batch_size now %d)",
                        len(batch), self.batch_size)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            self.with_backoff(fn, batch[:half])
            self.with_backoff(fn, batch[half:])

    # ------------------------------------------------------------------ set-up checks

    def _adds_bos(self) -> bool:
        bos = self.tokenizer.bos_token_id
        return bos is not None and self.tokenizer.encode("a")[:1] == [bos] != \
            self.tokenizer.encode("a", add_special_tokens=False)[:1]

    @torch.inference_mode()
    def _check_head(self) -> None:
        """We call the transformer and the LM head separately; make sure that equals the model."""
        ids = torch.tensor([self.tok_encode("The cat sat on the mat.")], device=self.device)
        ref = self.model(input_ids=ids).logits[0, -1].float()
        mine = self.logits(self.base(input_ids=ids).last_hidden_state[0, -1:])[0]
        tol = 1e-3 if self.head.weight.dtype == torch.float32 else 0.5
        if not torch.allclose(ref, mine, atol=tol, rtol=0):
            raise NotImplementedError(f"{self.name}: logits are not lm_head(last hidden state) for this "
                                      f"architecture; HFLM cannot score it")

    @torch.inference_mode()
    def _check_packing(self) -> bool:
        """Packed lanes need attention that honours a 4D mask and explicit positions on every
        layer. Sliding windows would be overridden by the mask, so they never pack; otherwise
        two suffixes packed in one lane must give the hidden states they give alone."""
        cfg = self.model.config.get_text_config()
        types = getattr(cfg, "layer_types", None)
        if (any("sliding" in t for t in types) if types else
                getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True)):
            return False
        ids = self.tok_encode("The cat sat on the mat. A dog barked twice at the moon.")
        p = 3
        kv = self.prefix_kv(ids[:p])
        rows = [plan.Row(ids[:p + 6], need=p), plan.Row(ids[:p] + ids[p + 6:], need=p)]
        alone = torch.cat([self.hidden_states(kv, torch.tensor([r.tokens[p:]], device=self.device))[0][0]
                           for r in rows])  # [n_a + n_b, d_model]
        self.packs = True
        lane, kw, _ = self._lane_inputs(p, [rows])
        packed = self.hidden_states(kv, lane.to(self.device), **kw)[0][0]  # [n_a + n_b, d_model]
        tol = 1e-3 if packed.dtype == torch.float32 else 5e-2
        ok = bool((packed.float() - alone.float()).abs().max() <= tol * alone.float().abs().max())
        if not ok:
            log.info("%s: attention ignores packed-lane masks; scoring one suffix per row", self.name)
        return ok


def is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower())
