"""The bad-input contract of the command line (issue 10, items 5 and 6).

Every case of ``contract_cases.CASES`` (a zoo entry x a command) must: exit with the
stated status, print a one-line message naming the file or value, never print a
Python traceback, still process the good items of a batch, and leave catalogs, run
folders and output files byte-identical when it fails. ``python
tests/cli/contract_table.py`` prints the same table as markdown.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from contract_cases import CASES, make_zoo, run_case

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return make_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_contract(case, zoo, tmp_path):
    outcome = run_case(case, zoo, tmp_path)
    problems = outcome.problems(case)
    assert not problems, (
        f"{case.id}: {problems}\n--- stderr ---\n{outcome.err}\n--- stdout ---\n{outcome.out}"
    )


def test_every_command_that_reads_input_is_covered():
    commands = {c.command for c in CASES}
    expected = {
        "features", "predict", "evaluate", "embed", "catalog add", "catalog info",
        "catalog remove", "catalog reindex", "similar", "train classify", "train lm",
        "train embed", "train recommend", "recommend", "generate", "interpolate",
        "datasets build demo", "demo", "vocode", "train vocoder", "denoise", "synthesize",
        "train gan", "export onnx",
    }  # fmt: skip
    assert expected <= commands
    assert len({c.id for c in CASES}) == len(CASES)


def test_no_traceback_in_a_real_process(zoo, tmp_path):
    # In-process runs see exceptions; a real process also shows warnings and C-level
    # noise on stderr: none of it may be a Python traceback.
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    for argv in (
        ["features", str(zoo["loop_dir"]), "--out", str(tmp_path / "f"), "--workers", "1",
         "--cache-dir", str(tmp_path / "c"), "--no-progress", "--allow-failures"],
        ["train", "recommend", "--data", str(zoo["lastfm_bigplay"]), "--out", str(tmp_path / "r")],
    ):  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "torchmusic", *argv], capture_output=True, text=True, env=env
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip(), "a message was expected"


# -- regression tests of the fixes below the CLI ---------------------------------------
def test_collect_inputs_survives_symlink_loops(zoo):
    from torchmusic.data.discover import collect_inputs, find_audio_files

    files = find_audio_files(zoo["loop_dir"])
    names = sorted(p.name for p in files)
    assert names == ["a.wav", "b.wav", "ok.wav", "self.wav"]  # the folder cycle ends
    inputs, _ = collect_inputs([zoo["loop_dir"]])
    assert sorted(rel for _, rel in inputs) == ["a.wav", "b.wav", "ok.wav", "self.wav"]


def test_training_drop_files_survives_symlink_loops(zoo):
    from torchmusic.data import ManifestDataset
    from torchmusic.data.discover import FailedFile
    from torchmusic.training.classify.data import drop_files

    ds = ManifestDataset(zoo["manifest_good"], label_column="label")
    kept = drop_files(
        ds, [FailedFile(zoo["loop_dir"] / "a.wav", "loop"), FailedFile(zoo["good"], "x")]
    )
    assert [t.path.name for t in kept.tracks] == ["Café del mar – take 2.wav"]


def test_manifest_encodings(zoo):
    from torchmusic.data.manifest import read_manifest

    for key in ("manifest_latin1", "manifest_utf16"):
        columns, rows = read_manifest(zoo[key])
        assert columns == ["path", "label", "note"]
        assert rows[0][1]["note"] in ("café", "ü")


def test_five_one_is_mixed_down_in_predict_and_features(zoo, tmp_path):
    from torchmusic.audio import load

    y, _ = load(zoo["six"], sr=None)
    ref, _ = sf.read(zoo["six"], dtype="float32")
    np.testing.assert_allclose(y.numpy(), ref.mean(axis=1), atol=1e-6)


def test_resume_of_a_killed_run_without_checkpoint_still_starts(tmp_path):
    # The refusal is for folders holding no run at all: a run killed before its first
    # checkpoint (config.yaml only) still starts from scratch on --resume.
    import dataclasses

    from torchmusic.errors import DataError
    from torchmusic.training.engine import check_run_dir

    @dataclasses.dataclass
    class Cfg:
        resume: bool = True

        def identity(self):
            return {}

        @classmethod
        def from_yaml(cls, path):
            return cls()

    with pytest.raises(DataError, match="no run to resume"):
        check_run_dir(Cfg(), tmp_path / "typo")
    (tmp_path / "killed").mkdir()
    (tmp_path / "killed" / "config.yaml").write_text("{}\n")
    assert check_run_dir(Cfg(), tmp_path / "killed") is None
