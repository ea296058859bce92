"""Storage: SQLAlchemy tables for searches, candidates and cached evaluations, next to Optuna's."""
from promptsearch.storage.store import DEFAULT_URL, NoTrialSlot, SearchRecord, Store, mask_url, upgrade_database

__all__ = ["DEFAULT_URL", "NoTrialSlot", "SearchRecord", "Store", "mask_url", "upgrade_database"]
