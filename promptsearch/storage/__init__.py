"""Storage: SQLAlchemy tables for searches, candidates and cached evaluations, next to Optuna's."""
from promptsearch.storage.store import DEFAULT_URL, SearchRecord, Store, mask_url

__all__ = ["DEFAULT_URL", "SearchRecord", "Store", "mask_url"]
