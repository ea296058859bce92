"""Candidate rendering: from search-space choices to prompt text. Knows nothing of models' internals,
and no strategy by name: a candidate brings its strategy object (promptsearch.strategies)."""
from promptsearch.render.compose import render
from promptsearch.render.demos import RATIONALE, select_demos
from promptsearch.render.prompt import Candidate, Layout, Prompt, PromptStrategy, PromptTemplate, display_name

__all__ = [
                                        "RATIONALE",
                                        "Candidate",
                                        "Layout",
                                        "Prompt",
                                        "PromptStrategy",
                                        "PromptTemplate",
                                        "display_name",
                                        "render",
                                        "select_demos",
]
