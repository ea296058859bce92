"""The meta-prompts sent to the proposer: APE's forward generation, OPRO's meta-prompt, APE's
iterative resampling. Plain text, so any model can be asked; the exact text is stored."""
from __future__ import annotations

from collections.abc import Sequence

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.render.prompt import display_name


def _pairs(task: TaskSpec, examples: Sequence[Example]) -> str:
    blocks = []
    for ex in examples:
        inputs = "\n".join(f"{display_name(f)}: {ex[f]}" for f in task.inputs)
        blocks.append(f"Input: {inputs}\nOutput: {ex[task.output]}")
    return "\n\n".join(blocks)


def induction(task: TaskSpec, examples: Sequence[Example]) -> str:
    """APE (Zhou et al. 2022), forward generation: the model completes the instruction."""
    return ("I gave a friend an instruction and some inputs. The friend read the instruction and "
            "wrote an output for every one of the inputs. Here are the input-output pairs:\n\n"
            f"{_pairs(task, examples)}\n\nThe instruction was to")


def refinement(task: TaskSpec, scored: Sequence[tuple[str, float]], examples: Sequence[Example]) -> str:
    """OPRO (Yang et al. 2023): previous instructions with scores, ascending, then examples."""
    history = "\n\n".join(f"text:\n{text or '(no instruction)'}\nscore:\n{round(100 * score)}"
                          for text, score in sorted(scored, key=lambda p: p[1]))
    return ("Your task is to write an instruction for a language model. Below are some previous "
            "instructions with their scores. The score ranges from 0 to 100, higher is better.\n\n"
            f"{history}\n\nBelow are some examples of the task.\n\n{_pairs(task, examples)}\n\n"
            "Write a new instruction that is different from the old ones and has a score as high "
            "as possible. Write only the instruction, in one sentence.\nNew instruction:")


def resampling(instruction: str) -> str:
    """APE's iterative Monte Carlo: a paraphrase of a good instruction."""
    return ("Generate a variation of the following instruction while keeping the semantic meaning.\n\n"
            f"Input: {instruction}\n\nOutput:")


def reflection(task: TaskSpec, instruction: str, failures: Sequence[dict]) -> str:
    """GEPA (Agrawal et al. 2025), reflective mutation: the current best instruction, examples it
    gets wrong (the model's answer and the metric's feedback where it gives one), a fix asked for."""
    blocks = []
    for f in failures:
        inputs = "\n".join(f"{display_name(name)}: {value}" for name, value in f["inputs"].items())
        lines = [f"Input: {inputs}", f"Expected output: {f['expected']}", f"Model's answer: {f['answer']}"]
        if f.get("feedback"):
            lines.append(f"Feedback: {f['feedback']}")
        blocks.append("\n".join(lines))
    examples = "\n\n".join(blocks)
    return ("A language model was given an instruction and answered some inputs wrongly.\n\n"
            f"Instruction: {instruction or '(no instruction)'}\n\n"
            f"Inputs it got wrong, with the expected output and the model's answer:\n\n{examples}\n\n"
            "Write an improved instruction that would make the model answer these correctly. Write only "
            "the instruction, in one sentence.\nImproved instruction:")
