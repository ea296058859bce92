"""`render`: a candidate to the prompt it is scored with, one template or one per input.

Kept apart from prompt.py so that prompt.py (templates) and dynamic.py (per-input demos, built
on templates) import in one direction only.
"""
from __future__ import annotations

from promptsearch.config.task import TaskSpec
from promptsearch.render.dynamic import DynamicPrompt
from promptsearch.render.prompt import Candidate, ChatFormat, Prompt, render_template


def render(candidate: Candidate, task: TaskSpec, chat_format: ChatFormat | None = None) -> Prompt:
    """A PromptTemplate, or a DynamicPrompt when the demos are chosen per input (`nearest`).
    `chat_format` (the model's chat template) is needed for the 'chat' layout."""
    if candidate.nearest is not None:
        return DynamicPrompt.build(candidate, task, chat_format)
    return render_template(candidate, task, chat_format)
