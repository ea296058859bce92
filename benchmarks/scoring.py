"""Scoring throughput: promptsearch's HFLM.loglikelihood vs a naive loop vs lm-evaluation-harness.

    python benchmarks/scoring.py                      # SST-2, 4 candidates x 128 examples, CPU fp32
    python benchmarks/scoring.py --skip-lmeval --examples 32 --json out.json
    python benchmarks/scoring.py --device cuda        # random SmolLM2-1.7B-shaped model, bf16
    python benchmarks/scoring.py --device cpu --shape 1.7b --examples 4   # smoke test of that mode
    python benchmarks/scoring.py --device cuda --one-call   # every candidate in one call (--parallel-candidates)

One process, one model and the same requests for every contender. A candidate is an instruction
with 0 or 4 demonstrations from the train split; each dev example is scored with both labels, one
engine call per candidate (as the evaluator calls it; `--one-call`: all candidates in one call, as
a --parallel-candidates batch, whose prefix groups share forwards on a GPU). Contenders:
  engine  promptsearch.lm.hf.HFLM.loglikelihood (shared prefix once, suffixes batched, head on labels)
  naive   one forward per (context, label): the full prompt, batch 1, full logits, log_softmax
  lm-eval lm_eval.models.huggingface.HFLM(pretrained=<same checkpoint dir>).loglikelihood
FLOP counts: 2 x (non-embedding params) per token through the transformer, 2 x d_model x vocab per
LM-head row, 4 x n_heads x head_dim per attended query-key pair; utilisation is relative to a
large square matmul of the same dtype timed in this process before and after every engine run
(the max of those readings; their spread is reported with it).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from promptsearch.lm.base import LoglikelihoodRequest  # noqa: E402
from promptsearch.lm.plan import encode_pair  # noqa: E402

INSTRUCTIONS = ["Classify the sentiment of each movie review as positive or negative.",
                "Is the following review positive or negative? Answer with one word."]
LABELS = (" positive", " negative")
FALLBACK = [("a gorgeous , witty , seductive movie .", "positive"),
            ("the film is strictly routine .", "negative"),
            ("one of the year 's most intriguing movie experiences .", "positive"),
            ("it 's a bad sign when you 're rooting for the film to end .", "negative")]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", type=int, default=4, help="candidate prompts (default 4)")
    ap.add_argument("--examples", type=int, default=None, help="dev examples (default 128; 872 on cuda)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "sst2"))
    ap.add_argument("--model", default=None, help="load_lm spec (default: embedded SmolLM2)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default=None, help="fp32 / bf16 (default fp32 on cpu, bf16 on cuda)")
    ap.add_argument("--shape", default=None, choices=["1.7b"], help="random model of this shape")
    ap.add_argument("--layers", type=int, default=None, help="fewer layers for --shape (quick smoke tests)")
    ap.add_argument("--batch-size", type=int, default=None, help="rows per forward (default 32; 256 on cuda)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="timed engine runs (median)")
    ap.add_argument("--skip-lmeval", action="store_true")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--naive-examples", type=int, default=None,
                    help="time the naive loop on this many examples per candidate and scale (default all; 32 on cuda)")
    ap.add_argument("--one-call", action="store_true",
                    help="score every candidate in one engine call (as --parallel-candidates does)")
    ap.add_argument("--json", default=None, help="write the numbers here")
    args = ap.parse_args(argv)
    gpu = args.device.startswith("cuda")
    if gpu and args.shape is None and args.model is None:
        args.shape = "1.7b"
    args.examples = args.examples or (872 if gpu else 128)
    args.batch_size = args.batch_size or (256 if gpu else 32)
    args.naive_examples = args.naive_examples or (32 if gpu else None)
    return args


# ----------------------------------------------------------------------------- data

def read_jsonl(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(r["sentence"], r["label"]) for r in rows]


def load_data(data_dir: str, n: int) -> tuple[list, list, str]:
    d = Path(data_dir)
    if (d / "dev.jsonl").is_file() and (d / "train.jsonl").is_file():
        return read_jsonl(d / "train.jsonl"), read_jsonl(d / "dev.jsonl")[:n], f"{d.name} dev"
    dev = (FALLBACK * (n // len(FALLBACK) + 1))[:n]
    return FALLBACK, dev, "built-in sentences"


def candidates(train: list, k: int) -> list[str]:
    """Prompt heads: instruction x {0, 4 demonstrations (2 per label, from train)}."""
    pos = [s for s in train if s[1] == "positive"][:2]
    neg = [s for s in train if s[1] == "negative"][:2]
    demos = "".join(f"Review: {s}\nSentiment: {y}\n\n" for s, y in [pos[0], neg[0], pos[1], neg[1]])
    heads = [f"{ins}\n\n{d}" for d in ("", demos) for ins in INSTRUCTIONS]
    return (heads * (k // len(heads) + 1))[:k]


def requests_for(head: str, dev: list) -> list[LoglikelihoodRequest]:
    return [LoglikelihoodRequest(f"{head}Review: {s}\nSentiment:", y) for s, _ in dev for y in LABELS]


# ----------------------------------------------------------------------------- contenders

def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_engine(lm, calls, device, one_call: bool = False):
    """One engine call per candidate (as the evaluator scores one trial), or with `one_call` every
    candidate in a single call (as --parallel-candidates scores a batch of trials)."""
    sync(device)
    t = time.perf_counter()
    out = [lm.loglikelihood([r for reqs in calls for r in reqs])] if one_call else \
        [lm.loglikelihood(reqs) for reqs in calls]
    sync(device)
    return time.perf_counter() - t, [r.logprob for res in out for r in res]


@torch.inference_mode()
def run_naive(lm, calls, device):
    """One request at a time: full prompt + continuation, plain forward, logits at every position."""
    sync(device)
    t, out = time.perf_counter(), []
    for reqs in calls:
        for r in reqs:
            ctx, cont = encode_pair(lm.tok_encode, r.context, r.continuation, [lm.tokenizer.bos_token_id])
            logits = lm.model(input_ids=torch.tensor([ctx + cont], device=device)).logits[0]  # [T, V]
            logp = F.log_softmax(logits.float(), dim=-1)
            out.append(sum(logp[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont)))
    sync(device)
    return time.perf_counter() - t, out


def run_lmeval(ckpt: str, calls, args):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM as LMEvalHFLM

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    model = LMEvalHFLM(pretrained=ckpt, device=args.device, dtype="float32" if args.dtype in (None, "fp32")
                       else "bfloat16", batch_size=args.batch_size)
    insts = [[Instance("loglikelihood", {}, (r.context, r.continuation), i) for i, r in enumerate(reqs)]
             for reqs in calls]
    model.loglikelihood(insts[0][:8], disable_tqdm=True)  # warm-up
    sync(args.device)
    t = time.perf_counter()
    out = [lp for batch in insts for lp, _ in model.loglikelihood(batch, disable_tqdm=True)]
    sync(args.device)
    return time.perf_counter() - t, out


# ----------------------------------------------------------------------------- FLOPs

def matmul_peak(device: str, dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Median FLOP/s of an n x n x n matmul: the practical peak of this machine for this dtype."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    times = []
    for i in range(reps + 1):
        sync(device)
        t = time.perf_counter()
        for _ in range(3):
            a @ b
        sync(device)
        if i:  # the first round warms up
            times.append((time.perf_counter() - t) / 3)
    return 2 * n**3 / statistics.median(times)


def peak_reading(device: str, dtype: torch.dtype) -> float:
    peak = matmul_peak(device, dtype, n=8192 if device.startswith("cuda") else 2048)
    progress(f"matmul peak {peak / 1e9:.1f} GFLOP/s")
    return peak


def engine_flops(model, stats) -> float:
    cfg = model.config
    emb = model.get_input_embeddings().weight.numel()
    head = model.get_output_embeddings().weight
    body = sum(p.numel() for p in model.parameters()) - emb - (0 if cfg.tie_word_embeddings else head.numel())
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    tokens = stats["prefix_tokens"] + stats["suffix_tokens"]
    return (2 * body * tokens + 2 * head.numel() * stats["head_rows"]
            + 4 * cfg.num_attention_heads * head_dim * cfg.num_hidden_layers * stats["attn_pairs"])


# ----------------------------------------------------------------------------- models

def random_model(args):
    """SmolLM2-1.7B's shape with random weights (nothing to download), and the embedded tokenizer."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from promptsearch.lm.hf import HFLM
    from promptsearch.lm.loading import embedded_gguf, gguf_checkpoint

    # bf16 on GPUs (tensor cores). CPUs without native bf16 matmul run it ~100x slower than fp32,
    # so the CPU smoke form defaults to fp32.
    default = "bf16" if args.device.startswith("cuda") else "fp32"
    dtype = torch.bfloat16 if (args.dtype or default) in ("bf16", "bfloat16") else torch.float32
    cfg = LlamaConfig(hidden_size=2048, num_hidden_layers=args.layers or 24, num_attention_heads=32,
                      num_key_value_heads=32,
                      intermediate_size=8192, vocab_size=49152, max_position_embeddings=8192,
                      tie_word_embeddings=True, rope_theta=130000, attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device(args.device):
        model = LlamaForCausalLM._from_config(cfg, dtype=dtype).eval()
    ckpt, _ = gguf_checkpoint(embedded_gguf())
    tok = AutoTokenizer.from_pretrained(str(ckpt))
    short = "bf16" if dtype == torch.bfloat16 else "fp32"
    return HFLM(model, tok, name=f"random-1.7b@{short}", batch_size=args.batch_size), str(ckpt), dtype


def real_model(args):
    from promptsearch.lm import load_lm

    lm = load_lm(args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    return lm, lm.load_info["checkpoint"], next(lm.model.parameters()).dtype


# ----------------------------------------------------------------------------- main

def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    lm, ckpt, dtype = (random_model if args.shape else real_model)(args)
    train, dev, source = load_data(args.data, args.examples)
    calls = [requests_for(h, dev) for h in candidates(train, args.candidates)]
    n_ex = args.candidates * len(dev)
    n_tok = sum(len(lm.tok_encode(r.context + r.continuation)) for reqs in calls for r in reqs)
    print(f"model {lm.name} on {args.device}, {torch.get_num_threads()} threads; {args.candidates} candidates x "
          f"{len(dev)} examples ({source}) x {len(LABELS)} labels = {n_ex * len(LABELS)} requests, "
          f"{n_tok} request tokens")

    res0 = {"loadavg_1min_start": os.getloadavg()[0]}
    lm.loglikelihood(calls[0][:8])  # warm-up
    # The peak is read before and after every engine run, not once: on a shared CPU one reading
    # ranged 161-298 GFLOP/s between quiet runs. The max is the machine's practical peak (a lower
    # reading is other load or clocks); the spread says how steady the machine was meanwhile.
    peaks = [peak_reading(args.device, dtype)]
    runs = []
    for _ in range(max(1, args.repeats)):
        lm.stats.clear()
        runs.append(run_engine(lm, calls, args.device, args.one_call))
        progress(f"engine run {len(runs)}: {runs[-1][0]:.2f} s")
        peaks.append(peak_reading(args.device, dtype))
    t_engine, lp_engine = statistics.median(r[0] for r in runs), runs[0][1]
    flops = engine_flops(lm.model, lm.stats)
    peak = max(peaks)
    res = {"model": lm.name, "device": args.device, "examples": n_ex, "request_tokens": n_tok,
           "engine_s": t_engine, "engine_runs_s": [r[0] for r in runs], "matmul_peak_flops": peak,
           "matmul_peak_readings_flops": peaks, "matmul_peak_spread": (peak - min(peaks)) / peak,
           "engine_flops": flops, "engine_flops_per_s": flops / t_engine, "mfu": flops / t_engine / peak,
           "engine_stats": dict(lm.stats), **res0}
    rows = [("engine", t_engine)]
    if args.shape and not args.device.startswith("cuda"):
        args.skip_naive = True  # minutes per request for a 1.7B model on a CPU: the smoke form skips it
    if not args.skip_naive:
        # a big model's naive loop runs on the first few examples; its time is scaled to all
        k = min(len(dev), args.naive_examples or len(dev))
        sub = [reqs[: k * len(LABELS)] for reqs in calls]
        t, lp_naive = run_naive(lm, sub, args.device)
        res["naive_s"], res["naive_examples_timed"] = t * len(dev) / k, k * len(calls)
        progress(f"naive: {t:.2f} s")
        lp_sub = [lp for reqs_lp in _split(lp_engine, calls) for lp in reqs_lp[: k * len(LABELS)]]
        res["engine_max_abs_diff"] = max(abs(a - b) for a, b in zip(lp_sub, lp_naive))
        rows.append(("naive", res["naive_s"]))
    if not args.skip_lmeval and not args.shape:
        res["lmeval_s"], lp_lmeval = run_lmeval(ckpt, calls, args)
        progress(f"lm-eval: {res['lmeval_s']:.2f} s")
        rows.append(("lm-eval", res["lmeval_s"]))
        if not args.skip_naive:
            lp_sub = [lp for reqs_lp in _split(lp_lmeval, calls) for lp in reqs_lp[: k * len(LABELS)]]
            res["lmeval_max_abs_diff"] = max(abs(a - b) for a, b in zip(lp_sub, lp_naive))
    res["loadavg_1min_end"] = os.getloadavg()[0]
    report(res, rows, n_ex, n_tok, len(runs))
    if args.json:
        Path(args.json).write_text(json.dumps(tracked(res, rows, n_ex, n_tok, args), indent=2))
    return res


def tracked(res: dict, rows: list, n_ex: int, n_tok: int, args) -> dict:
    """The figures to track over time: one object per contender, the ratios, the run's details."""
    diff = {"engine": res.get("engine_max_abs_diff"), "naive": 0.0 if "naive_s" in res else None,
            "lm-eval": res.get("lmeval_max_abs_diff")}
    contenders = [{"name": name, "seconds": t, "examples_per_s": n_ex / t, "tokens_per_s": n_tok / t,
                   "max_abs_dlogprob_vs_naive": diff[name]} for name, t in rows]
    contenders[0].update(flops_per_s=res["engine_flops_per_s"], matmul_peak_flops=res["matmul_peak_flops"],
                         matmul_peak_spread=res["matmul_peak_spread"], fraction_of_peak=res["mfu"],
                         runs_s=res["engine_runs_s"])
    ratios = {f"engine/{name}": t / res["engine_s"] for name, t in rows[1:]}
    return {"config": {k: v for k, v in vars(args).items() if k != "json"}, "contenders": contenders,
            "ratios": ratios, "details": res}


def progress(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.1f}] {msg}", file=sys.stderr, flush=True)


def _split(flat: list, calls: list) -> list[list]:
    """A flat per-request list back into one list per call."""
    out, i = [], 0
    for reqs in calls:
        out.append(flat[i:i + len(reqs)])
        i += len(reqs)
    return out


def report(res: dict, rows: list, n_ex: int, n_tok: int, repeats: int) -> None:
    print(f"{'contender':<9} {'seconds':>9} {'examples/s':>11} {'tokens/s':>10}")
    for name, t in rows:
        note = f"  (median of {repeats})" if name == "engine" and repeats > 1 else ""
        print(f"{name:<9} {t:9.2f} {n_ex / t:11.1f} {n_tok / t:10.0f}{note}")
    if "naive_s" in res:
        scaled = res["naive_examples_timed"] < n_ex
        print(f"engine / naive   speed-up: {res['naive_s'] / res['engine_s']:.1f}x"
              + (f"  (naive timed on {res['naive_examples_timed']} examples, scaled)" if scaled else ""))
    if "lmeval_s" in res:
        print(f"engine / lm-eval speed-up: {res['lmeval_s'] / res['engine_s']:.1f}x")
    if "engine_max_abs_diff" in res:
        print(f"max |d log-prob| vs naive: engine {res['engine_max_abs_diff']:.2e}"
              + (f", lm-eval {res['lmeval_max_abs_diff']:.2e}" if "lmeval_max_abs_diff" in res else ""))
    s = res["engine_stats"]
    print(f"engine work per run: {s.get('prefix_tokens', 0)} prefix + {s.get('suffix_tokens', 0)} suffix tokens "
          f"({s.get('padded_tokens', 0)} with padding), {s.get('head_rows', 0)} LM-head rows")
    readings = res["matmul_peak_readings_flops"]
    print(f"engine {res['engine_flops_per_s'] / 1e9:.1f} GFLOP/s = {100 * res['mfu']:.0f}% of measured "
          f"matmul peak {res['matmul_peak_flops'] / 1e9:.1f} GFLOP/s (the max of {len(readings)} readings "
          f"taken between the engine runs: {min(readings) / 1e9:.1f} to {max(readings) / 1e9:.1f}, "
          f"spread {100 * res['matmul_peak_spread']:.0f}% of the max)")
    print("(tokens/s counts every request's context + continuation tokens, computed or not)")
    print(f"load average (1 min) at start {res['loadavg_1min_start']:.2f}, at end {res['loadavg_1min_end']:.2f}"
          f" on {os.cpu_count()} CPUs: other processes share the cores when it exceeds the threads used")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
