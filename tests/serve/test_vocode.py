"""The vocoder API and ``torchmusic vocode``: shapes, chunking without seams, checks, bad input.

A tiny Vocos-style model (random weights: what is tested is the plumbing, not the
sound) saved as a real model file; real audio from ``../shared/data/recordings``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig

SR = 22050


@pytest.fixture(scope="module")
def tiny_vocoder(tmp_path_factory):
    from torchmusic.models.vocoder import build_vocoder
    from torchmusic.models.vocoder.vocoderfile import VocoderSpec, save_vocoder

    torch.manual_seed(0)
    net = build_vocoder(
        "vocos", n_mels=128, hop_length=512, dim=32, intermediate_dim=64, num_layers=2
    )
    path = tmp_path_factory.mktemp("voc") / "tiny.safetensors"
    save_vocoder(path, net.eval(), VocoderSpec("vocos", {}, FeatureConfig().to_dict()))
    return path


@pytest.fixture(scope="module")
def vocoder(tiny_vocoder):
    from torchmusic.serve.vocode import Vocoder

    return Vocoder(tiny_vocoder)


@pytest.fixture(scope="module")
def waltz(shared_data):
    y, sr = sf.read(
        shared_data / "recordings" / "147793__setuniman__sweet-waltz-0i-22mi.ogg", dtype="float32"
    )
    assert sr == SR
    return torch.from_numpy(y if y.ndim == 1 else y.mean(1))


def test_vocoder_takes_exactly_what_the_features_give(vocoder, waltz):
    mel = vocoder.feature.compute(waltz[:SR])  # (128, 44)
    out = vocoder(mel)
    assert out.shape == (mel.shape[-1] * 512,) and torch.isfinite(out).all()
    batch = vocoder(torch.stack([mel, mel]))
    assert batch.shape == (2, mel.shape[-1] * 512)
    torch.testing.assert_close(batch[0], out, atol=1e-5, rtol=0)


def test_model_file_round_trip_gives_identical_audio(tiny_vocoder, vocoder, waltz):
    from torchmusic.serve.vocode import Vocoder

    mel = vocoder.feature.compute(waltz[: SR // 2])
    again = Vocoder(tiny_vocoder)
    assert torch.equal(vocoder(mel), again(mel))


def test_chunked_synthesis_equals_whole_synthesis_and_has_no_seam(vocoder, waltz):
    mel = vocoder.feature.compute(waltz[: 6 * SR])  # 259 frames
    whole = vocoder(mel, chunk_frames=10_000)
    chunked = vocoder(mel, chunk_frames=64)
    assert chunked.shape == whole.shape
    # Everywhere, including the samples around each chunk boundary (64 * 512 * k):
    # the context frames make a chunk's samples those of whole-file synthesis.
    err = (chunked - whole).abs()
    assert float(err.max()) < 1e-4, float(err.max())
    for k in (1, 2, 3):
        edge = 64 * 512 * k
        window = slice(edge - 256, edge + 256)
        # no step at the boundary: the jump across it is like its neighbours'
        jump = (chunked[edge] - chunked[edge - 1]).abs()
        typical = (chunked[window][1:] - chunked[window][:-1]).abs().max()
        assert jump <= typical + 1e-6
    # Without context the boundary differs: the test above could fail.
    no_context = vocoder(mel, chunk_frames=64, context_frames=0)
    assert float((no_context - whole).abs().max()) > 1e-3


def test_a_mel_of_other_settings_is_refused_by_name(vocoder, waltz):
    other = FeatureConfig(n_mels=80)
    with pytest.raises(ParameterError, match=r"n_mels: model 128, given 80"):
        vocoder(other.compute(waltz[:SR]), feature=other)
    with pytest.raises(ParameterError, match=r"shape \(80, 44\).*n_mels=128"):
        vocoder(other.compute(waltz[:SR]))
    with pytest.raises(ParameterError, match="hop_length: model 512, given 256"):
        vocoder.check_mel(
            torch.zeros(128, 5), feature=dataclasses.replace(FeatureConfig(), hop_length=256)
        )


def test_nan_mels_are_refused(vocoder):
    mel = torch.zeros(128, 10)
    mel[3, 4] = float("nan")
    with pytest.raises(ParameterError, match="1 NaN/Inf value"):
        vocoder(mel)


def test_resynthesis_keeps_length_channels_and_says_when_it_resampled(vocoder, waltz):
    stereo = torch.stack([waltz[:SR], 0.5 * waltz[:SR]])
    res = vocoder.resynthesize(stereo, SR)
    assert res.audio.shape == (2, SR) and res.resampled_from is None
    assert torch.isfinite(res.audio).all()
    res = vocoder.resynthesize(waltz[:SR].numpy(), 44100)  # claimed 44.1 kHz: resampled
    assert res.resampled_from == 44100 and res.audio.shape == (1, SR // 2)
    silence = vocoder.resynthesize(torch.zeros(SR), SR)
    assert silence.audio.shape == (1, SR) and torch.isfinite(silence.audio).all()
    with pytest.raises(ParameterError, match="shorter than 10 ms"):
        vocoder.resynthesize(torch.zeros(100), SR)  # 4.5 ms


def test_vocode_command_processes_good_files_and_lists_bad_ones(
    tiny_vocoder, waltz, tmp_path, capsys
):
    from torchmusic.cli.main import main

    good = tmp_path / "in" / "good.wav"
    good.parent.mkdir()
    sf.write(good, waltz[: SR + 123].numpy(), SR)
    sf.write(tmp_path / "in" / "tiny.wav", np.zeros(110, dtype="float32"), SR)  # 5 ms
    (tmp_path / "in" / "fake.wav").write_bytes(b"not audio at all")
    out = tmp_path / "out"
    code = main(
        [
            "vocode",
            "-m",
            str(tiny_vocoder),
            str(tmp_path / "in"),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "tiny.wav" in err and "fake.wav" in err and "Traceback" not in err
    y, sr = sf.read(out / "good.wav")
    assert sr == SR and len(y) == SR + 123 and np.isfinite(y).all()
    assert not (out / "fake.wav").exists() and not (out / "tiny.wav").exists()


def test_vocode_refuses_a_classifier_file_by_what_it_is(tmp_path, capsys):
    from torchmusic.cli.main import main
    from torchmusic.pretrained import resolve_model

    code = main(
        ["vocode", "-m", str(resolve_model("drums")), "x.wav", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 1 and "classifier model file" in err and "Traceback" not in err


def test_griffin_lim_comparison_scores_both_from_one_mel(vocoder, waltz):
    from torchmusic.serve.vocode import compare_with_griffin_lim

    rows = compare_with_griffin_lim(vocoder, waltz[:SR], n_iter=4, refine=8)
    assert set(rows) == {"vocoder", "vocoder +refine 8", "griffin-lim 4"}
    for row in rows.values():
        assert set(row) == {"log_mel_l1_db", "mr_stft", "si_sdr_db"}
        assert all(np.isfinite(v) for v in row.values())
    # Griffin-Lim from the true mel is far closer in log-mel than a random-weight network.
    assert rows["griffin-lim 4"]["log_mel_l1_db"] < rows["vocoder"]["log_mel_l1_db"]
    # Refinement moves the random network's output towards the mel.
    assert rows["vocoder +refine 8"]["log_mel_l1_db"] < rows["vocoder"]["log_mel_l1_db"]


def test_the_shipped_music_vocoder_resynthesises_real_music(shared_data):
    """The shipped model on a recording it never saw (librosa's example ragtime)."""
    from torchmusic.audio import load
    from torchmusic.metrics.audio import log_mel_l1
    from torchmusic.pretrained import available_models
    from torchmusic.serve.vocode import Vocoder

    assert "music-vocoder" in available_models()
    voc = Vocoder("music-vocoder")
    assert voc.feature == FeatureConfig() and voc.spec.architecture == "vocos"
    y, sr = load(
        shared_data / "recordings" / "442789__lena-orsa__happy-music-pistachio-ice-cream-ragtime.ogg",
        sr=None, offset=5.0, duration=3.0,
    )  # fmt: skip
    res = voc.resynthesize(y, sr)
    assert res.audio.shape == (1, y.shape[-1]) and torch.isfinite(res.audio).all()
    # Trained: its resynthesis is within a few dB of the original's log-mel (measured
    # 5.7 dB with the shipped weights; the untrained network is over 20 dB off).
    assert log_mel_l1(y.double(), res.audio[0].double()) < 7.0
    untrained = voc.net.__class__(voc.net.config).eval()
    with torch.no_grad():
        noise = untrained(voc.feature.compute(y)[None])[0, : y.shape[-1]]
    assert log_mel_l1(y.double(), noise.double()) > 20.0
    # With 32 mel-consistency steps the shipped model lands far closer to the mel.
    refined = voc.resynthesize(y, sr, refine=32)
    assert log_mel_l1(y.double(), refined.audio[0].double()) < 0.5 * log_mel_l1(
        y.double(), res.audio[0].double()
    )


def test_mel_refinement_pulls_the_log_mel_towards_the_target(vocoder, waltz):
    from torchmusic.metrics.audio import log_mel_l1
    from torchmusic.serve.mel_refine import refine_to_mel

    y = waltz[2 * SR : 4 * SR]
    mel = vocoder.feature.compute(y)
    raw = vocoder(mel)[: y.numel()]  # random weights: far from the music
    errors = [
        float(
            log_mel_l1(
                y.double(), refine_to_mel(raw, mel, feature=vocoder.feature, n_iter=k).double()
            )
        )
        for k in (0, 4, 16)
    ]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.5 * errors[0], errors
    assert torch.equal(refine_to_mel(raw, mel, feature=vocoder.feature, n_iter=0), raw)
    # Silence stays finite (every gain is bounded) and the shape is kept, batched too.
    quiet = refine_to_mel(
        torch.zeros(2, SR), torch.stack([mel[..., :44]] * 2), feature=vocoder.feature, n_iter=3
    )
    assert quiet.shape == (2, SR) and torch.isfinite(quiet).all()
    with pytest.raises(ParameterError, match="n_iter=-1"):
        refine_to_mel(raw, mel, feature=vocoder.feature, n_iter=-1)


def test_refined_chunked_synthesis_equals_whole_file_away_from_edges(tiny_vocoder, waltz):
    from torchmusic.serve.vocode import Vocoder

    voc = Vocoder(tiny_vocoder, refine=8)
    mel = voc.feature.compute(waltz[: 6 * SR])
    whole = voc(mel, chunk_frames=10_000)
    chunked = voc(mel, chunk_frames=64)
    assert not torch.equal(whole, Vocoder(tiny_vocoder)(mel, chunk_frames=10_000))
    # Refinement spreads each chunk's edge a little further than the network does; with
    # 32 context frames and the whole mel's top_db floor the kept samples still match
    # whole-file synthesis (measured: 1.6e-6 of the peak at 8 steps).
    rel = float((chunked - whole).abs().max() / whole.abs().max())
    assert rel < 1e-4, rel
    for k in (1, 2, 3):
        edge = 64 * 512 * k
        jump = (chunked[edge] - chunked[edge - 1]).abs()
        typical = (chunked[edge - 256 : edge + 256].diff()).abs().max()
        assert jump <= typical + 1e-6
    with pytest.raises(ParameterError, match="refine=-2"):
        Vocoder(tiny_vocoder, refine=-2)
