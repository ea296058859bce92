"""Candidate rendering: from search-space choices to prompt text. Knows nothing of models' internals."""
from promptsearch.render.demos import select_demos
from promptsearch.render.prompt import Candidate, PromptTemplate, display_name, render

__all__ = ["Candidate", "PromptTemplate", "display_name", "render", "select_demos"]
