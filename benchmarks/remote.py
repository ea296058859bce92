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

    python benchmarks/remote.py --threads 1 --modes --examples 16 --candidates 2 --repeats 1
    python benchmarks/remote.py --threads 1 --accuracy examples/review_sentiment.yaml --limit 40 --mode generate

`--modes` runs each label scoring mode (evaluate/labels.py: loglikelihood, first-token, generate)
on the same candidates, in-process and through `serve`, and prints examples/s and, per example,
model calls and prompt/generated tokens as each side counts them (lm/usage.py; through serve, the
HTTP requests and the server's token counts). `--accuracy TASK` scores a fixed prompt (its
instruction, with 0 and with 4 train demos) in the plain and the chat layout on the task's test
split in each mode, in-process (through serve the results are the same: tests/serve/
test_label_modes.py), and prints accuracy and unparsed answers per mode.
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
from scoring import LABELS, candidates, load_data, requests_for  # noqa: E402

from promptsearch.lm import load_lm  # noqa: E402
from promptsearch.lm.remote import load_remote  # noqa: E402
from promptsearch.serve import make_server  # noqa: E402

MODES = ("loglikelihood", "first-token", "generate")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--examples", type=int, default=64, help="dev examples per candidate")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "sst2"))
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight (RemoteLM)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the numbers here")
    ap.add_argument("--modes", action="store_true", help="compare the label scoring modes (see above)")
    ap.add_argument("--accuracy", metavar="TASK", help="accuracy of each mode on TASK's test split")
    ap.add_argument("--limit", type=int, default=None, help="--accuracy: the first N test examples only")
    ap.add_argument("--mode", choices=MODES, action="append", help="--accuracy: only these modes (repeatable)")
    ap.add_argument("--shots", default="0,4", help="--accuracy: demonstration counts to try (2 per label at most)")
    return ap.parse_args(argv)


def timed(fn, calls) -> tuple[float, list[float]]:
    t = time.perf_counter()
    out = [fn(reqs) for reqs in calls]
    return time.perf_counter() - t, [r.logprob for res in out for r in res]


def run_mode(side, mode: str, calls) -> tuple[float, dict[str, float]]:
    """Seconds and usage (calls, prompt and generated tokens) for one mode over every candidate."""
    from promptsearch.evaluate.labels import LabelScorer

    before = side.usage
    t = time.perf_counter()
    for reqs in calls:
        if mode == "loglikelihood":
            side.loglikelihood(reqs)
        else:
            contexts = [r.context for r in reqs[::len(LABELS)]]
            LabelScorer(mode)(side, [x.strip() for x in LABELS], contexts, [" "] * len(contexts))
    seconds = time.perf_counter() - t
    after = side.usage
    return seconds, {k: after.get(k, 0) - before.get(k, 0) for k in ("calls", "prompt_tokens", "completion_tokens")}


def modes(lm, remote, calls, repeats: int) -> list[dict]:
    """Per mode, in-process and through serve: examples/s and calls/tokens per example."""
    n = sum(len(c) for c in calls) // len(LABELS)
    rows = []
    for mode in MODES:
        row: dict = {"mode": mode}
        for name, side in (("in-process", lm), ("serve", remote)):
            run_mode(side, mode, [c[:4] for c in calls[:1]])  # warm-up
            runs = [run_mode(side, mode, calls) for _ in range(repeats)]
            seconds = statistics.median(r[0] for r in runs)
            usage = runs[0][1]
            row[name] = {"examples_per_s": n / seconds, "calls_per_example": usage["calls"] / n,
                         "prompt_tokens_per_example": usage["prompt_tokens"] / n,
                         "generated_tokens_per_example": usage["completion_tokens"] / n}
            print(f"  {mode} {name}: {seconds:.2f} s", flush=True)
        rows.append(row)
    print(f"{'mode':14s} {'side':11s} {'examples/s':>10s} {'calls/ex':>9s} {'prompt tok/ex':>14s} {'gen tok/ex':>11s}")
    for row in rows:
        for name in ("in-process", "serve"):
            r = row[name]
            print(f"{row['mode']:14s} {name:11s} {r['examples_per_s']:10.1f} {r['calls_per_example']:9.3f} "
                  f"{r['prompt_tokens_per_example']:14.1f} {r['generated_tokens_per_example']:11.2f}")
    return rows


def accuracy(lm, task_path: str, limit: int | None = None, shots: str = "0,4",
             modes: list[str] | None = None) -> list[dict]:
    """Accuracy and unparsed answers of a fixed prompt per mode and layout on the task's test split."""
    from promptsearch.config import load_task
    from promptsearch.data.dataset import load_split
    from promptsearch.evaluate import Evaluator, decoding_for_settings
    from promptsearch.render import Candidate, render
    from promptsearch.strategies import DIRECT

    task = load_task(task_path)
    train, test = load_split(task, "train"), load_split(task, "test", limit)
    demos = tuple([e for e in train if e[task.output] == label][:2][i] for i in range(2) for label in task.labels)
    rows = []
    print(f"{task.name}: {len(test)} test examples, instruction 'Classify the {{inputs}}. Answer with one of: "
          f"{{labels}}.'")
    print(f"{'mode':14s} {'layout':7s} {'demos':>5s} {'accuracy':>9s} {'unparsed':>9s} {'seconds':>8s}")
    for mode in modes or MODES:
        evaluator = Evaluator(lm, task, decoding=decoding_for_settings(32, "sum" if mode == "loglikelihood" else mode))
        for layout in ("plain", "chat"):
            for k in (int(x) for x in shots.split(",")):
                shown = demos[:k]
                candidate = Candidate(instruction="Classify the {inputs}. Answer with one of: {labels}.", demos=shown,
                                      cot_trigger=None, template=layout, strategy=DIRECT)
                t = time.perf_counter()
                ev = evaluator.evaluate(render(candidate, task, lm.apply_chat_template), test)
                unparsed = sum(bool(r.unparsed) for r in ev.results)
                rows.append({"mode": mode, "layout": layout, "demos": len(shown), "accuracy": ev.score,
                             "unparsed": unparsed, "seconds": time.perf_counter() - t})
                print(f"{mode:14s} {layout:7s} {len(shown):5d} {ev.score:9.3f} {unparsed:9d} "
                      f"{time.perf_counter() - t:8.1f}", flush=True)
    return rows


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    lm = load_lm("smollm2", device="cpu")
    if args.accuracy:
        out = {"accuracy": accuracy(lm, args.accuracy, args.limit, args.shots, args.mode)}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
        return out
    train, dev, source = load_data(args.data, args.examples)
    calls = [requests_for(head, dev) for head in candidates(train, args.candidates)]
    server = make_server(lm, "127.0.0.1", 0, model_id="smollm2")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = load_remote("openai/smollm2", api_base=server.url, concurrency=args.concurrency)
    if args.modes:
        try:
            out = {"modes": modes(lm, remote, calls, args.repeats)}
        finally:
            server.shutdown()
            server.server_close()
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
        return out
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
