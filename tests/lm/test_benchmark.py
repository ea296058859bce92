"""benchmarks/scoring.py runs end to end in its small forms (CPU, seconds)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from promptsearch.lm.base import LOGPROB_TOLERANCE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scoring():
    spec = importlib.util.spec_from_file_location("scoring", ROOT / "benchmarks" / "scoring.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scoring_benchmark_small(scoring, lm, tmp_path, capsys):
    out = tmp_path / "r.json"
    res = scoring.main(["--candidates", "2", "--examples", "3", "--repeats", "1", "--skip-lmeval",
                        "--json", str(out)])
    assert res["engine_max_abs_diff"] <= LOGPROB_TOLERANCE and res["mfu"] > 0
    peaks = res["matmul_peak_readings_flops"]  # read before and after the one engine run; the max divides
    assert len(peaks) == 2 and res["matmul_peak_flops"] == max(peaks) and 0 <= res["matmul_peak_spread"] < 1
    tracked = json.loads(out.read_text())
    assert [c["name"] for c in tracked["contenders"]] == ["engine", "naive"]
    assert tracked["details"]["examples"] == 6
    assert tracked["ratios"]["engine/naive"] == pytest.approx(res["naive_s"] / res["engine_s"])
    assert "engine / naive" in capsys.readouterr().out


def test_scoring_benchmark_shape_mode_smoke(scoring):
    # the --device cuda mode's code path on CPU: a random SmolLM2-1.7B-shaped model (2 layers here)
    res = scoring.main(["--device", "cpu", "--shape", "1.7b", "--layers", "2", "--examples", "2",
                        "--candidates", "1", "--repeats", "1"])
    assert res["model"] == "random-1.7b@fp32" and res["engine_flops"] > 0
