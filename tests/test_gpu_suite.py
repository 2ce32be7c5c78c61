"""The GPU suite's report merger (benchmarks/gpu_suite_report.py) on small fake results.

The suite itself needs a GPU and minutes; only the merging of its outputs is tested here.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_suite_report.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("gpu_suite_report", REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="3">
<testcase classname="tests.features.test_x" name="test_a"/>
<testcase classname="tests.features.test_x" name="test_b"/>
<testcase classname="tests.audio.test_y" name="test_c"><failure message="boom"/></testcase>
</testsuite></testsuites>
"""


def fake_suite(folder: Path, *, with_generation: bool = True) -> None:
    (folder / "logs").mkdir(parents=True)
    (folder / "machine.json").write_text(
        json.dumps(
            {"gpu": "NVIDIA H200", "driver": "580.1", "torch": "2.11.0", "torch_cuda": "13.0",
             "cpu_count": 16, "cpu": "Xeon", "python": "3.12.3", "dry_run": False}
        )
    )  # fmt: skip
    steps = [
        ("pytest_gpu", "failed", "12.5"),
        ("features_logmel", "ok", "40.0"),
        ("train_throughput", "ok", "100.2"),
        ("embed_throughput", "ok", "30.1"),
        ("generation_speed", "ok" if with_generation else "timeout", "20.0"),
    ]
    (folder / "steps.tsv").write_text("".join(f"{n}\t{s}\t{t}\trc=0\n" for n, s, t in steps))
    (folder / "pytest_gpu.xml").write_text(JUNIT)
    ms = {"librosa_loop": 30.0, "librosa_batched": 25.0, "torchmusic_cpu": 10.0,
          "torchmusic_cpu_native": 8.0, "torchmusic_cuda": 0.5}  # fmt: skip
    (folder / "features_logmel.json").write_text(
        json.dumps(
            {"results": [
                {"batch": b, "ms_per_clip": ms, "speedup_cpu": 2.5, "speedup_cpu_native": 3.1,
                 "speedup_cuda": 50.0}
                for b in (1, 16, 64)
            ]}
        )
    )  # fmt: skip
    (folder / "train_throughput.json").write_text(
        json.dumps(
            {"results": [
                {"device": "cuda", "model": m, "batch_size": 256, "clips_per_s": 1234.5,
                 "bare_clips_per_s": 2000.0, "gpu_util_mean": 87.5, "gpu_util_ge90_share": 0.6}
                for m in ("simple_cnn", "crnn", "shortchunk")
            ]}
        )
    )  # fmt: skip
    (folder / "embed_throughput.json").write_text(
        json.dumps(
            {"tracks": ["a.ogg", "b.ogg"], "minutes": 2.0, "results": [
                {"embedder": "decode only", "seconds": 1.0},
                {"embedder": "autoencoder", "device": "cuda", "seconds": 2.0},
                {"embedder": "classifier:drums", "device": "cuda", "seconds": 4.0},
            ]}
        )
    )  # fmt: skip
    if with_generation:
        (folder / "generation_speed.json").write_text(
            json.dumps(
                {"device": "cuda", "results": [
                    {"new_tokens": 256, "cached_tokens_per_s": 400.0,
                     "uncached_tokens_per_s": 100.0, "speedup": 4.0, "identical_tokens": True}
                ]}
            )
        )  # fmt: skip
    else:
        (folder / "logs" / "generation_speed.log").write_text("loading\nstill going\n")


def test_report_has_every_row(report, tmp_path):
    fake_suite(tmp_path)
    assert report.main(["--dir", str(tmp_path)]) == 1  # pytest step failed
    table = (tmp_path / "gpu_suite.md").read_text()
    assert "NVIDIA H200" in table and "580.1" in table and "16 CPUs" in table
    assert "| pytest -m gpu | failed | 12.5 | tests marked gpu | 2 passed, 1 failed" in table
    for batch in (1, 16, 64):
        assert f"| batch {batch} | torchmusic CUDA 0.5 ms/clip, librosa 25 ms/clip: 50x |" in table
    for model in ("simple_cnn", "crnn", "shortchunk"):
        assert f"| cuda {model} | 1.23e+03 clips/s" in table
    assert "GPU util 87.5 % mean, 60% of samples >= 90 %" in table
    assert "| autoencoder (cuda) | 1 tracks/s, 60 audio s per s |" in table
    assert "| decode only (cpu) |" in table
    assert "| 256 tokens (cuda) | KV cache 400 tok/s" in table
    data = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert data["machine"]["gpu"] == "NVIDIA H200"
    assert set(data["steps"]) == {
        "pytest_gpu", "features_logmel", "train_throughput", "embed_throughput",
        "generation_speed",
    }  # fmt: skip
    assert data["steps"]["pytest_gpu"]["result"]["failures"] == 1
    assert data["steps"]["train_throughput"]["seconds"] == pytest.approx(100.2)


def test_missing_result_keeps_its_row(report, tmp_path):
    fake_suite(tmp_path, with_generation=False)
    payload, table = report.build_report(tmp_path, "cuda")
    assert "| generation speed | timeout | 20.0 | - | no result: loading / still going |" in table
    assert payload["steps"]["generation_speed"]["result"] is None
