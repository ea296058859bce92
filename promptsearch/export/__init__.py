"""Export of a search's best candidate. Reads storage and results; never runs a model."""
from promptsearch.export.formats import EXPORTERS, Exporter, export_record, render_export

# The built-in formats register by being imported here, in the order `--format` lists them.
# isort: off
from promptsearch.export import chat, jinja, dspy_program  # noqa: F401
# isort: on

__all__ = ["EXPORTERS", "Exporter", "export_record", "render_export"]
