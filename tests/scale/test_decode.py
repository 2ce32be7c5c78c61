"""decode_stream: input order, errors as values, a dying worker, the bounded look-ahead."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from torchmusic import audio
from torchmusic.errors import ParameterError
from torchmusic.scale.decode import decode_stream

SHORT = [  # real recordings of 2.7-17 s
    "456440__inspectorj__bird-whistling-robin-single-13.ogg",
    "198-209-0000.ogg",
    "sorohanro_-_solo-trumpet-06.ogg",
    "5703-47212-0000.ogg",
]


@pytest.fixture(scope="module")
def recordings(shared_data):
    return [shared_data / "recordings" / name for name in SHORT]


@dataclasses.dataclass(frozen=True)
class DieOnShort:
    """A ``prepare`` that kills its worker process on any waveform under ``seconds``."""

    seconds: float

    def __call__(self, y):
        if y.shape[-1] < self.seconds * 8000:
            os._exit(3)  # as a decoder segfault would: no exception, the process is gone
        return y.shape[-1]


@pytest.mark.parametrize("workers", [0, 2])
def test_outcomes_in_input_order_with_errors_as_values(recordings, shared_data, tmp_path, workers):
    text = shared_data / "recordings" / "LICENSE"  # exists, but not audio
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    paths = [recordings[0], text, recordings[1], tmp_path / "missing.ogg", empty, recordings[2]]

    out = list(decode_stream(paths, sr=8000, workers=workers))

    assert [d.path for d in out] == paths
    assert [d.ok for d in out] == [True, False, True, False, False, True]
    assert all(d.error and d.value is None and d.n_samples == 0 for d in out if not d.ok)
    for d in (out[0], out[2], out[5]):
        expected, _ = audio.load(d.path, sr=8000)
        assert d.value.dtype == np.float32 and d.n_samples == expected.shape[-1]
        np.testing.assert_array_equal(d.value, expected.numpy())


def test_a_dying_worker_costs_only_its_own_file(recordings):
    # The bird (2.7 s) kills its worker; the files in flight with it must still come back.
    out = list(decode_stream(recordings, sr=8000, workers=2, prepare=DieOnShort(5.0)))

    assert [d.path for d in out] == recordings
    assert "worker process died" in (out[0].error or "")
    assert [d.ok for d in out[1:]] == [True, True, True]
    assert [d.value for d in out[1:]] == [d.n_samples for d in out[1:]]


def test_inputs_are_pulled_only_a_bounded_window_ahead(recordings):
    pulled = []

    def lazy():
        for i in range(40):
            pulled.append(i)
            yield recordings[i % len(recordings)]

    stream = decode_stream(lazy(), sr=8000, workers=2, ahead=2)
    first = next(stream)
    # 2 workers x 2 ahead: the 40-file input is not read further than 4 files
    # (+1 for the look-up that found the window full is never made).
    assert first.ok and len(pulled) == 4
    stream.close()


def test_bad_arguments_echo_the_value():
    with pytest.raises(ParameterError, match="workers=-1"):
        next(decode_stream(["a.ogg"], sr=8000, workers=-1))
    with pytest.raises(ParameterError, match="ahead=0"):
        next(decode_stream(["a.ogg"], sr=8000, workers=1, ahead=0))
