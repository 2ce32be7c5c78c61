"""``torchmusic generate`` / ``interpolate``: files written, reproducibility, bad input.

Models are tiny and trained for a few steps on a real tiny folk corpus (O'Neill's
and Aird's tunes from music21), so what is tested is the machinery, not the music.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torchmusic.cli.main import main

HAS_FLUIDSYNTH = shutil.which("fluidsynth") is not None and any(
    Path("/usr/share/sounds/sf2").glob("*.sf2")
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def folk_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("music21")
    from torchmusic.symbolic import build_folk_corpus

    # Same folder and selection as tests/training/test_training_lm.py: built once.
    out = tmp_path_factory.getbasetemp() / "lm-folk-tiny"
    build_folk_corpus(out, collections="oneills,aird", limit=5, workers=1, progress=False)
    return out


def _train(folk: Path, out: Path, model: str, model_config: dict, **kw) -> Path:
    from torchmusic.training.lm import train_lm
    from torchmusic.training.lm.settings import LMTrainConfig

    cfg = LMTrainConfig(
        data=str(folk),
        model=model,
        model_config=model_config,
        seq_len=64,
        batch_size=8,
        max_steps=3,
        out_dir=str(out),
        tokenize_workers=0,
        accelerator="cpu",
        devices=1,
        condition_min_count=1,
        **kw,
    )
    return train_lm(cfg, progress=False).model_file


@pytest.fixture(scope="module")
def lm_file(tmp_path_factory, folk_tiny) -> Path:
    tiny = {"n_layer": 1, "n_head": 2, "n_embd": 16, "dropout": 0.0}
    out = tmp_path_factory.mktemp("lm") / "run"
    return _train(folk_tiny, out, "transformer", tiny, conditions=["tune_type"])


@pytest.fixture(scope="module")
def vae_file(tmp_path_factory, folk_tiny) -> Path:
    tiny = {"latent": 4, "enc_hidden": 16, "dec_hidden": 16, "n_embd": 16, "dec_layers": 1}
    return _train(folk_tiny, tmp_path_factory.mktemp("vae") / "run", "vae", tiny)


def _tunes(folk: Path) -> list[Path]:
    return sorted((folk / "midi").rglob("*.mid"))


def test_generate_writes_midi_png_wav_and_is_reproducible(tmp_path, lm_file, capsys):
    args = ["generate", str(lm_file), "-n", "2", "--bars", "4", "--seed", "7"]
    assert main([*args, "--condition", "tune_type=jig", "-o", str(tmp_path / "a")]) == 0
    assert main([*args, "--condition", "tune_type=jig", "-o", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    expected = ["model-7.mid", "model-7.png", "model-8.mid", "model-8.png"]
    if HAS_FLUIDSYNTH:
        expected += ["model-7.wav", "model-8.wav"]
    assert names == sorted(expected)
    for name in ("model-7.mid", "model-8.mid"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    out = capsys.readouterr().out
    assert str(tmp_path / "a" / "model-7.mid") in out

    from torchmusic.symbolic import read_midi

    # --bars 4: the longest metre of the corpus is 6/4 (6 quarters a bar).
    score = read_midi(tmp_path / "a" / "model-7.mid")
    assert score.end() <= 4 * 6 * score.ticks_per_quarter


def test_generate_seeds_differ_and_no_png_no_wav(tmp_path, lm_file):
    args = ["generate", "--model", str(lm_file), "-n", "1", "--bars", "4", "--no-png", "--no-wav"]
    assert main([*args, "--seed", "1", "-o", str(tmp_path / "a")]) == 0
    assert main([*args, "--seed", "2", "-o", str(tmp_path / "b")]) == 0
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["model-1.mid"]
    assert (tmp_path / "a" / "model-1.mid").read_bytes() != (
        tmp_path / "b" / "model-2.mid"
    ).read_bytes()


def test_unknown_condition_value_lists_the_valid_ones(tmp_path, lm_file, capsys):
    rc = main(["generate", str(lm_file), "--condition", "tune_type=nonsense", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "unknown tune_type 'nonsense'; valid values:" in err and "jig" in err and "reel" in err
    rc = main(["generate", str(lm_file), "--condition", "mood=sad", "-o", str(tmp_path)])
    assert rc == 1 and "conditioned on tune_type" in capsys.readouterr().err
    rc = main(["generate", str(lm_file), "--condition", "tune_type", "-o", str(tmp_path)])
    assert rc == 1 and "expected KEY=VALUE" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.mid"))


def test_prime_continues_and_a_primer_longer_than_the_context_is_an_error(
    tmp_path, lm_file, folk_tiny, capsys
):
    from torchmusic.symbolic import build_tokenizer, encode, read_midi

    tok = build_tokenizer()
    tunes = sorted(_tunes(folk_tiny), key=lambda p: len(encode(read_midi(p), tok)))
    short, long = tunes[0], tunes[-1]
    assert len(encode(read_midi(long), tok)) > 64  # the model's context
    rc = main(["generate", str(lm_file), "--prime", str(long), "-o", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 1 and "longer than the model's context of 64 tokens" in err and long.name in err

    # A short primer (its first bar) is continued: the piece starts with its notes.
    from torchmusic.symbolic import decode, write_midi

    ids = encode(read_midi(short), tok)
    bar = tok["Bar_None"]
    second = [i for i, t in enumerate(ids) if t == bar][1]
    primer = write_midi(decode(ids[:second], tok), tmp_path / "primer.mid")
    rc = main(["generate", str(lm_file), "--prime", str(primer), "--bars", "2", "--no-png",
               "--no-wav", "-o", str(tmp_path / "y")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    first = read_midi(primer).tracks[0].notes[0]
    got = read_midi(tmp_path / "y" / "model-0.mid").tracks[0].notes[0]
    assert (got.pitch, got.time) == (first.pitch, first.time)


def _bad_midi(folder: Path) -> dict[str, str]:
    """Unusable MIDI files -> the message each must give."""
    import symusic

    from torchmusic.symbolic import write_midi

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage, not MIDI")
    (folder / "empty.mid").write_bytes(b"")
    kit = symusic.Score(480)
    track = symusic.Track(name="kit", program=0, is_drum=True)
    track.notes.extend(symusic.Note(i * 480, 240, 36, 100) for i in range(4))
    kit.tracks.append(track)
    write_midi(kit, folder / "drums.mid")
    return {
        "corrupt.mid": "not a readable MIDI file",
        "empty.mid": "is empty",
        "drums.mid": "only drum tracks",
        "missing.mid": "no such MIDI file",
    }


def test_bad_primers_are_clear_errors_and_write_nothing(tmp_path, lm_file, capsys):
    for name, message in _bad_midi(tmp_path / "bad").items():
        out = tmp_path / "out"
        rc = main(["generate", str(lm_file), "--prime", str(tmp_path / "bad" / name),
                   "-o", str(out)])  # fmt: skip
        err = capsys.readouterr().err
        assert rc == 1 and message in err and name in err, (name, err)
        assert not out.exists() or not any(out.iterdir())


def test_interpolate_refuses_bad_midi(tmp_path, vae_file, folk_tiny, capsys):
    good = _tunes(folk_tiny)[0]
    for name, message in _bad_midi(tmp_path / "bad").items():
        out = tmp_path / "out"
        rc = main(["interpolate", str(vae_file), str(good), str(tmp_path / "bad" / name),
                   "-o", str(out)])  # fmt: skip
        err = capsys.readouterr().err
        assert rc == 1 and message in err and name in err, (name, err)
        assert not out.exists() or not any(out.iterdir())


def test_a_generator_file_is_refused_by_the_audio_commands(tmp_path, lm_file, capsys):
    import numpy as np
    import soundfile as sf

    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(22050, np.float32), 22050)
    for args in (["predict", "--model", str(lm_file), str(wav)],
                 ["embed", str(wav), "--model", str(lm_file), "-c", str(tmp_path / "cat"),
                  "--no-progress"]):  # fmt: skip
        rc = main(args)
        err = capsys.readouterr().err
        assert rc == 1 and "generator model file" in err and "torchmusic generate" in err, err
    assert not (tmp_path / "cat").exists()  # nothing created for a refused model


def test_a_classifier_model_file_is_refused(tmp_path, capsys):
    import torchmusic.pretrained as pretrained

    if "drums" not in pretrained.available_models():
        pytest.skip("the shipped drums classifier is not installed")
    rc = main(["generate", "--model", "drums", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and "audio classifier model file" in err and "torchmusic predict" in err


def test_interpolate_writes_steps_plus_two_pieces(tmp_path, vae_file, folk_tiny, capsys):
    a, b = _tunes(folk_tiny)[:2]
    rc = main(["interpolate", str(vae_file), str(a), str(b), "--steps", "3", "--no-wav",
               "-o", str(tmp_path)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.glob("*.mid")) == [
        f"interp-{i:02d}.mid" for i in range(5)
    ]
    assert len(list(tmp_path.glob("*.png"))) == 5


def test_interpolate_refuses_a_language_model(tmp_path, lm_file, folk_tiny, capsys):
    a, b = _tunes(folk_tiny)[:2]
    rc = main(["interpolate", str(lm_file), str(a), str(b), "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and "is a 'tokens' generator" in err and "needs a 'vae' model" in err


def test_generate_samples_a_vae(tmp_path, vae_file, capsys):
    rc = main(["generate", str(vae_file), "-n", "2", "--no-wav", "-o", str(tmp_path)])
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.glob("*.mid")) == ["model-0.mid", "model-1.mid"]
    rc = main(["generate", str(vae_file), "--condition", "tune_type=jig", "-o", str(tmp_path)])
    assert rc == 1 and "need a token language model" in capsys.readouterr().err


def test_generation_does_not_import_lightning(tmp_path, lm_file):
    code = (
        "import sys\n"
        "from torchmusic.cli.main import main\n"
        f"rc = main(['generate', {str(lm_file)!r}, '-n', '1', '--bars', '2', '--no-wav', "
        f"'--no-png', '-o', {str(tmp_path)!r}])\n"
        "assert rc == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "model-0.mid").is_file()


def test_shipped_folk_model_generates_jigs_offline(tmp_path, capsys):
    import torchmusic.pretrained as pretrained

    if "folk" not in pretrained.available_models():
        pytest.skip("the shipped folk model is not installed")
    from torchmusic.models.symbolic import read_generator_spec
    from torchmusic.pretrained import resolve_model

    path = resolve_model("folk")
    assert path.stat().st_size <= 20 * 1024 * 1024
    spec = read_generator_spec("folk", kind="tokens")
    assert {"jig", "reel", "hornpipe"} <= set(spec.conditions["fields"]["tune_type"])
    rc = main(["generate", "--model", "folk", "-n", "4", "--bars", "4", "--condition",
               "tune_type=jig", "--no-wav", "-o", str(tmp_path)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.glob("*.mid")) == [f"folk-{i}.mid" for i in range(4)]
    rc = main(
        ["generate", "--model", "folk", "--condition", "tune_type=nonsense", "-o", str(tmp_path)]
    )
    assert rc == 1 and "valid values:" in capsys.readouterr().err
