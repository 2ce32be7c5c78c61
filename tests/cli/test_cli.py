"""The command-line interface: a thin layer, fast to start, honest exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.cli.main import main


def _tone(path: Path, seconds: float = 1.0, sr: int = 22050) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path


def test_help_does_not_import_heavy_modules():
    # `torchmusic --help` must be instant: no torch, numpy or librosa on that path.
    code = (
        "import sys\n"
        "from torchmusic.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "import json\n"
        "print(json.dumps(sorted(m for m in ('torch', 'numpy', 'librosa', 'soundfile')"
        " if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert "features" in out.stdout and "datasets" in out.stdout


def test_python_dash_m_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "torchmusic", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.strip() == __import__("torchmusic").__version__


def test_info_reports_versions_and_device(capsys):
    assert main(["info", "--torch"]) == 0
    out = capsys.readouterr().out
    for key in ("torchmusic", "torch", "device", "torch threads", "libsndfile"):
        assert key in out
    import torch

    facts = dict(line.split(maxsplit=1) for line in out.splitlines() if "threads" not in line)
    threads = next(line for line in out.splitlines() if line.startswith("torch threads"))
    assert threads.split()[-1] == str(torch.get_num_threads())
    assert facts["torch"] == torch.__version__


def test_info_answers_without_importing_torch():
    code = (
        "import sys\n"
        "from torchmusic.cli.main import main\n"
        "assert main(['info']) == 0\n"
        "print('TORCH_LOADED', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "TORCH_LOADED False" in out.stdout
    assert "device" in out.stdout and "torch" in out.stdout


@pytest.mark.parametrize("kind,bins", [("logmel", 128), ("mfcc", 20), ("chroma", 12), ("mel", 64)])
def test_features_writes_one_npy_per_file(tmp_path, kind, bins):
    src = tmp_path / "in"
    (src / "a").mkdir(parents=True)
    _tone(src / "a" / "x.wav")
    _tone(src / "y.wav", seconds=0.5)
    args = ["features", str(src), "--kind", kind, "--out", str(tmp_path / "out")]
    args += ["--cache-dir", str(tmp_path / "cache"), "--workers", "1", "--no-progress"]
    if kind == "mel":
        args += ["--n-mels", "64"]
    assert main(args) == 0
    x = np.load(tmp_path / "out" / "a" / "x.npy", allow_pickle=False)
    y = np.load(tmp_path / "out" / "y.npy", allow_pickle=False)
    assert x.shape == (bins, 44) and y.shape == (bins, 22)


def test_features_bad_file_is_skipped_reported_and_fails_exit(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _tone(src / "good.wav")
    (src / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    base = ["features", str(src), "--out", str(tmp_path / "out"), "--no-progress"]
    base += ["--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    assert main(base) == 1
    captured = capsys.readouterr()
    assert "broken.wav" in captured.err
    assert (tmp_path / "out" / "good.npy").is_file()  # the good result is not lost
    assert main([*base, "--allow-failures"]) == 0


def test_features_missing_path_names_it(tmp_path, capsys):
    missing = tmp_path / "nope.wav"
    code = main(
        [
            "features",
            str(missing),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--cache-dir",
            str(tmp_path / "c"),
            "--workers",
            "1",
        ]
    )
    assert code == 1
    assert "nope.wav" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--hop-length", "-5"], "hop_length=-5"),
        (["--n-mels", "4000"], "n_mels=4000"),
        (["--fmax", "20000"], "fmax=20000"),
    ],
)
def test_features_invalid_parameters_are_clear_errors(tmp_path, capsys, flags, needle):
    _tone(tmp_path / "a.wav")
    code = main(
        [
            "features",
            str(tmp_path / "a.wav"),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--cache-dir",
            str(tmp_path / "c"),
            *flags,
        ]
    )
    assert code == 1
    assert needle in capsys.readouterr().err


def test_unknown_kind_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["features", str(tmp_path), "--kind", "cqt", "--out", str(tmp_path)])
    assert exc.value.code == 2
