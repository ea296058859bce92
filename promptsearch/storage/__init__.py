"""Storage: the project's tables beside Optuna's, behind one `Store` and its repositories."""
from promptsearch.storage.store import DEFAULT_URL, SearchRecord, Store, mask_url, upgrade_database

__all__ = ["DEFAULT_URL", "SearchRecord", "Store", "mask_url", "upgrade_database"]
