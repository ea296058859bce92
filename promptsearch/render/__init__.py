"""Candidate rendering: from search-space choices to prompt text. Knows nothing of models' internals."""
from promptsearch.render.demos import select_demos
from promptsearch.render.prompt import Candidate, PromptTemplate, display_name, render
from promptsearch.render.strategy import STRATEGIES, Strategy

__all__ = ["Candidate", "PromptTemplate", "STRATEGIES", "Strategy", "display_name", "render", "select_demos"]
