"""Remote label scoring: the same requests through `promptsearch serve` (HTTP, echo log-probs) vs
in-process HFLM.loglikelihood, on the embedded model, in one process.

    python benchmarks/remote.py                       # SST-2 dev, 4 candidates x 64 examples, CPU
    python benchmarks/remote.py --examples 128 --concurrency 16 --json remote.json

The server runs in a thread of this process on the same model object (its batcher thread owns the
model while the client waits), so both sides use the same weights, threads and requests. A
candidate is an instruction with 0 or 4 demonstrations (benchmarks/scoring.py); each dev example
is scored with both labels, one call per candidate, as the evaluator calls it. Remote: RemoteLM
sends the call as /v1/completions requests of at most 16 prompts, `--concurrency` in flight; the
server batches what arrives together and scores every prompt token (lm/echo.py). Timed runs
alternate the two sides; the figures are medians of `--repeats`. The log-probs of both sides are
compared (max absolute difference).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from scoring import candidates, load_data, requests_for  # noqa: E402

from promptsearch.lm import load_lm  # noqa: E402
from promptsearch.lm.remote import load_remote  # noqa: E402
from promptsearch.serve import make_server  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--examples", type=int, default=64, help="dev examples per candidate")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "sst2"))
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight (RemoteLM)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the numbers here")
    return ap.parse_args(argv)


def timed(fn, calls) -> tuple[float, list[float]]:
    t = time.perf_counter()
    out = [fn(reqs) for reqs in calls]
    return time.perf_counter() - t, [r.logprob for res in out for r in res]


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    lm = load_lm("smollm2", device="cpu")
    train, dev, source = load_data(args.data, args.examples)
    calls = [requests_for(head, dev) for head in candidates(train, args.candidates)]
    server = make_server(lm, "127.0.0.1", 0, model_id="smollm2")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = load_remote("openai/smollm2", api_base=server.url, concurrency=args.concurrency)
    try:
        remote.check_loglikelihood()
        timed(lm.loglikelihood, [c[:8] for c in calls[:1]])  # warm-up: first-call allocations
        timed(remote.loglikelihood, [c[:8] for c in calls[:1]])
        local_t, remote_t, diff = [], [], 0.0
        for rep in range(args.repeats):
            sides = [("local", lm.loglikelihood, local_t), ("remote", remote.loglikelihood, remote_t)]
            results = {}
            for name, fn, times in sides if rep % 2 == 0 else sides[::-1]:
                seconds, results[name] = timed(fn, calls)
                times.append(seconds)
                print(f"  run {rep + 1} {name:6s} {seconds:7.2f} s", flush=True)
            diff = max(diff, max(abs(a - b) for a, b in zip(results["local"], results["remote"])))
    finally:
        server.shutdown()
        server.server_close()
    n = args.candidates * len(dev)
    res = {"source": source, "candidates": args.candidates, "examples": len(dev), "threads": args.threads,
           "concurrency": args.concurrency, "local_s": statistics.median(local_t),
           "remote_s": statistics.median(remote_t), "max_abs_logprob_diff": diff,
           "remote_usage": remote.usage}
    res["local_examples_per_s"] = n / res["local_s"]
    res["remote_examples_per_s"] = n / res["remote_s"]
    res["ratio_remote_over_local"] = res["remote_examples_per_s"] / res["local_examples_per_s"]
    print(f"{source}: {args.candidates} candidates x {len(dev)} examples x 2 labels, {args.threads} threads, "
          f"concurrency {args.concurrency}, median of {args.repeats}")
    print(f"  in-process        {res['local_examples_per_s']:8.1f} examples/s  ({res['local_s']:.2f} s)")
    print(f"  through serve     {res['remote_examples_per_s']:8.1f} examples/s  ({res['remote_s']:.2f} s)")
    print(f"  ratio serve/in-process {res['ratio_remote_over_local']:.2f}x; max |log-prob difference| {diff:.2e}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
