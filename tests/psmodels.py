"""Tiny random Hugging Face checkpoints (a few MB, SmolLM2's tokenizer) for tests that need
several distinct local model folders: real transformers models, loaded by the real loader."""
from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def tiny_checkpoint(folder: Path, seed: int) -> Path:
    """A 2-layer, 16-wide Llama with random weights (seeded) saved in `folder`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from promptsearch.lm.loading import embedded_gguf, gguf_checkpoint

    smollm, _ = gguf_checkpoint(embedded_gguf())
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=49152, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
                         bos_token_id=1, eos_token_id=2, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (smollm / name).is_file():
            shutil.copy(smollm / name, folder / name)
    return folder
