"""Export of a search's best candidate. Reads storage and results; never runs a model."""
from promptsearch.export.formats import EXPORTERS, Exporter, export_record, render_export

__all__ = ["EXPORTERS", "Exporter", "export_record", "render_export"]
