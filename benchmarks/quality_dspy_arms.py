"""The DSPy arms of benchmarks/search_quality.py (see quality_dspy.py for the server, the engine,
the adapter and how the budget is counted): MIPROv2 and GEPA run on one task, and their pick as a
row of the benchmark's table, judged on test by promptsearch's held-out verdict.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from quality_arms import DSPY_ARMS
from quality_dspy import PROMPT_MAX_TOKENS, THREADS, Counter, make_adapter, served_lm, to_candidate

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.data.metrics import resolve_metric
from promptsearch.export.dspy_program import signature_string
from promptsearch.render.prompt import Candidate, expand_instruction, render_template


@dataclass
class DspyPick:
    """What a DSPy arm found, and what it cost."""

    arm: str
    instruction: str
    demos: tuple[Example, ...]
    calls: int  # generated sequences the server answered for the search (the budget's count)
    counts: dict[str, int]  # the same by kind: program / prompt (proposals, reflection)
    trials: int  # MIPROv2: trials run; GEPA: candidates it kept
    dspy_dev: float  # DSPy's own score of the pick on dev (generation + label mapping)
    start_instruction: str  # the unoptimized program's (the space's first instruction, expanded)
    search_seconds: float
    search_cpu_seconds: float
    notes: list[str] = field(default_factory=list)


class DspyTask:
    """One task set up for DSPy: the student program, train/dev as dspy.Examples, the metrics."""

    def __init__(self, task: TaskSpec, instruction: str, train: list[Example], dev: list[Example],
                 max_new_tokens: int):
        import dspy

        self.task, self.max_new_tokens = task, max_new_tokens
        self.instruction = expand_instruction(instruction, task)
        self.metric = resolve_metric(task)
        self.ours: dict[tuple, Example] = {}  # inputs -> our example (its references)
        self.train, self.dev = self.examples(train), self.examples(dev)
        self.student = dspy.Predict(dspy.Signature(signature_string(task), self.instruction))

    def examples(self, rows: list[Example]) -> list:
        import dspy

        out = []
        for e in rows:
            self.ours[tuple(e[n] for n in self.task.inputs)] = e
            out.append(dspy.Example(**e.fields).with_inputs(*self.task.inputs))
        return out

    def score(self, gold, pred) -> tuple[float, str | None, str]:
        ours = self.ours[tuple(gold[n] for n in self.task.inputs)]
        answer = getattr(pred, self.task.output, None) or ""
        got = self.metric.score(answer, ours)
        value, feedback = got if isinstance(got, tuple) else (got, None)
        return float(value), feedback, answer

    def mipro_metric(self, gold, pred, trace=None) -> float:
        return self.score(gold, pred)[0]

    def gepa_metric(self, gold, pred, trace=None, pred_name=None, pred_trace=None):
        import dspy

        value, feedback, answer = self.score(gold, pred)
        if feedback is None:
            expected = gold[self.task.output]
            feedback = "Correct." if value >= 1.0 else f"Wrong: answered {answer!r}, expected {expected!r}."
        return dspy.Prediction(score=value, feedback=feedback)


def run_dspy_arm(arm: str, dt: DspyTask, url: str, *, budget: int, seed: int, candidates: int,
                 prompt_tokens: int = PROMPT_MAX_TOKENS, lean: bool = False) -> DspyPick:
    """MIPROv2 or GEPA on `dt` until `budget` model calls; DSPy's score of its pick on dev after."""
    import dspy

    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)  # empty, this arm's own
    counter = Counter()
    program_lm = served_lm(url, counter, chat=False, kind="program", max_tokens=dt.max_new_tokens, temperature=0.0)
    prompt_lm = served_lm(url, counter, chat=True, kind="prompt", max_tokens=prompt_tokens, temperature=1.0)
    dspy.configure(lm=program_lm, adapter=make_adapter(dt.task, dt.max_new_tokens))
    start, cpu = time.perf_counter(), time.process_time()
    notes: list[str] = []
    if arm == "mipro":
        program, trials = run_mipro(dt, program_lm, prompt_lm, counter, budget, seed, candidates, notes, lean)
    elif arm == "gepa":
        program, trials = run_gepa(dt, prompt_lm, counter, budget, seed)
    else:
        raise ValueError(f"unknown DSPy arm {arm!r}; known: {', '.join(DSPY_ARMS)}")
    seconds, cpu_seconds, counts = time.perf_counter() - start, time.process_time() - cpu, dict(counter.counts)
    predictor = program.predictors()[0]
    evaluate = dspy.Evaluate(devset=dt.dev, metric=dt.mipro_metric, num_threads=THREADS, display_progress=False)
    dev = evaluate(program)  # mostly cached: both optimizers scored their pick on all of dev
    candidate = to_candidate(dt.task, predictor.signature.instructions, predictor.demos)
    return DspyPick(arm=arm, instruction=candidate.instruction, demos=candidate.demos, calls=sum(counts.values()),
                    counts=counts, trials=trials, dspy_dev=float(getattr(dev, "score", dev)) / 100.0,
                    start_instruction=dt.instruction,
                    search_seconds=seconds, search_cpu_seconds=cpu_seconds, notes=notes)


MIPRO_ROUNDS = 4  # reruns (each replays the last from DSPy's cache) to spend what cached trials left


def run_mipro(dt: DspyTask, program_lm, prompt_lm, counter: Counter, budget: int, seed: int, candidates: int,
              notes: list[str], lean: bool = False):
    """MIPROv2, sized to the budget: one trial measures the fixed cost, then the same seed again
    with the trials the rest of the budget pays for (the earlier run replays from the cache), and
    again while cached trials left enough budget for another."""
    import dspy

    minibatch = len(dt.dev) > 50  # MIPROv2's own rule in its auto modes (MIN_MINIBATCH_SIZE)
    batch = min(35, len(dt.dev))

    def compile(trials: int):
        opt = dspy.MIPROv2(metric=dt.mipro_metric, prompt_model=prompt_lm, task_model=program_lm, auto=None,
                           num_candidates=candidates, num_threads=THREADS, seed=seed, verbose=False)
        return opt.compile(dt.student, trainset=dt.train, valset=dt.dev, num_trials=trials, minibatch=minibatch,
                           minibatch_size=batch, minibatch_full_eval_steps=5, data_aware_proposer=not lean,
                           program_aware_proposer=not lean)

    program, trials = compile(1), 1
    fixed = counter.calls
    per_trial = batch + len(dt.dev) / 5 if minibatch else len(dt.dev)
    notes.append(f"MIPROv2 fixed cost {fixed} calls (bootstrapping, proposals, one trial)"
                 + (" without the data- and program-aware proposer steps (--mipro-lean)" if lean else ""))
    for _ in range(MIPRO_ROUNDS):  # trials repeating a scored combination are free: top up what is left
        more = int((budget - counter.calls) // per_trial)
        if more < 1:
            break
        before = counter.calls
        try:
            program, trials = compile(trials + more), trials + more
        except ValueError as e:  # DSPy's own stop: every combination tried was fully evaluated already
            if "No valid program found" not in str(e):
                raise
            notes.append(f"MIPROv2 raised at {trials + more} trials ({e}: a full evaluation found no "
                         f"combination left to evaluate); its {trials}-trial program is the pick")
            break
        if counter.calls == before:  # every new trial was cached: the space is spent
            break
    notes.append(f"then {trials} trials in all (~{per_trial:.0f} calls per uncached trial)")
    return program, trials


def run_gepa(dt: DspyTask, prompt_lm, counter: Counter, budget: int, seed: int):
    """GEPA, stopped by a gepa stop callback once the count reaches the budget."""
    import dspy
    from dspy.teleprompt.gepa import InstructionProposer

    def spent(state) -> bool:  # a gepa StopperProtocol
        return counter.calls >= budget

    # GEPA's own proposer, with our adapter instead of its default JSONAdapter (the 135M model writes no JSON)
    proposer = InstructionProposer(adapter=make_adapter(dt.task, dt.max_new_tokens))
    opt = dspy.GEPA(metric=dt.gepa_metric, reflection_lm=prompt_lm, max_metric_calls=budget, num_threads=THREADS,
                    seed=seed, track_stats=True, instruction_proposer=proposer, gepa_kwargs={"stop_callbacks": [spent]})
    program = opt.compile(dt.student, trainset=dt.train, valset=dt.dev)
    return program, len(program.detailed_results.candidates)


def write_prompt(candidate: Candidate, task: TaskSpec, path: Path) -> Path:
    """The candidate as a prompt JSON (`promptsearch export --format json`'s "prompt" and
    "answer_prefix"): what `evaluate_heldout(baseline=...)` scores."""
    template = render_template(candidate, task)
    path.write_text(json.dumps({"prompt": template.with_placeholders(), "answer_prefix": template.answer_prefix},
                               indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def dspy_row(args, lm, bench, task: TaskSpec, pick: DspyPick, hand: dict, workdir: Path) -> dict:
    """The pick as a row of the table: its prompt JSON and the start program's (first instruction,
    no demos), each judged against the hand prompt by `evaluate_heldout` in the hand arm's
    database, as `promptsearch eval --baseline FILE` would (the hand prompt is the verdict's
    "best" side there, so the differences are turned round)."""
    import promptsearch as ps
    from promptsearch.strategies import DIRECT
    from promptsearch.verdict.stats import paired_test

    store, record = hand["store"], hand["record"]
    start = time.perf_counter(), time.process_time()
    tag = f"{bench.name}-{pick.arm}"
    files = {"pick": write_prompt(Candidate(instruction=pick.instruction, demos=pick.demos, strategy=DIRECT), task,
                                  workdir / f"{tag}.json"),
             "start": write_prompt(Candidate(instruction=pick.start_instruction, strategy=DIRECT), task,
                                   workdir / f"{tag}-start.json")}
    judged = {}
    for name, path in files.items():
        judged[name] = {split: ps.evaluate_heldout(store, record, split=split, baseline=str(path), lm=lm, save=False,
                                                   limit=args.test_limit if split == "test" else args.dev_limit,
                                                   seed=args.seed) for split in ("test", "dev")}
    test, dev = judged["pick"]["test"], judged["pick"]["dev"]
    first_test, first_dev = judged["start"]["test"].baseline, judged["start"]["dev"].baseline
    b, d = test.baseline, test.difference
    diff = [x - y for x, y in zip(b.scores, first_test.scores)]
    return {"task": bench.name, "kind": bench.kind, "arm": pick.arm, "calls": pick.calls,
            "loglikelihood_requests": 0, "generated_sequences": pick.calls, "counts": pick.counts,
            "scored_examples": pick.counts.get("program", 0), "capped": False, "trials": pick.trials,
            "per_example": 1, "dev": dev.baseline.score.estimate, "dspy_dev": pick.dspy_dev,
            "test": b.score.estimate, "test_low": b.score.low, "test_high": b.score.high,
            "gap": dev.baseline.score.estimate - b.score.estimate,
            "start_dev": first_dev.score.estimate, "start_test": first_test.score.estimate,
            "start_gap": first_dev.score.estimate - first_test.score.estimate,
            "vs_start": sum(diff) / len(diff) if diff else 0.0,
            "vs_start_p": paired_test(b.scores, first_test.scores)[1],
            "vs_hand": flip(d.estimate), "vs_hand_low": flip(d.high), "vs_hand_high": flip(d.low),
            "vs_hand_p": test.p_value,
            "test_name": test.test, "test_examples": test.examples, "instruction": pick.instruction,
            "source": f"{pick.arm} ({len(pick.demos)} demos; DSPy's own dev {pick.dspy_dev:.3f})",
            "format": "default (fixed)", "params": {}, "test_scores": b.scores, "notes": pick.notes,
            "search_seconds": round(pick.search_seconds, 1), "test_seconds": round(time.perf_counter() - start[0], 1),
            "search_cpu_seconds": round(pick.search_cpu_seconds, 1),
            "test_cpu_seconds": round(time.process_time() - start[1], 1)}


def flip(x: float) -> float:
    """-x, with no negative zero (a difference turned round must print as +0.000)."""
    return -x + 0.0
