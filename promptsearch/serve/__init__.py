"""`promptsearch serve`: a local model behind an OpenAI-compatible HTTP API."""
from promptsearch.serve.server import OpenAIServer, make_server

__all__ = ["OpenAIServer", "make_server"]
