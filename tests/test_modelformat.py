"""A new kind of model file is a spec dataclass, one ModelFormat and its registrations."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from torch import nn

from torchmusic.errors import DataError, ParameterError
from torchmusic.io import ModelFormat, Registry
from torchmusic.io.container import FORMATS, spec_from_dict


@dataclasses.dataclass
class ToyVocoderConfig:
    n_mels: int = 4
    hop: int = 2


class ToyVocoder(nn.Module):
    def __init__(self, config: ToyVocoderConfig) -> None:
        super().__init__()
        self.config = config
        self.proj = nn.Linear(config.n_mels, config.hop)


@dataclasses.dataclass
class ToyVocoderSpec:
    architecture: str
    model_config: dict[str, Any]
    sr: int = 22050

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyVocoderSpec:
        return spec_from_dict(cls, data)


VOCODERS = Registry("vocoder", label="vocoder architecture", base=nn.Module)
VOCODERS.register("toy", ToyVocoderConfig, ToyVocoder)
VOCODER = ModelFormat(
    "torchmusic.test-vocoder", 1, ToyVocoderSpec, "vocoder model file", registry=VOCODERS,
    used_by="torchmusic vocode", written_by="torchmusic train vocoder",
)  # fmt: skip


def test_a_new_format_round_trips(tmp_path):
    torch.manual_seed(0)
    model = VOCODERS.build("toy", n_mels=4, hop=3)
    path = VOCODER.save(tmp_path / "v.safetensors", model, ToyVocoderSpec("toy", {}, sr=16000))
    assert VOCODER.read_spec(path) == ToyVocoderSpec("toy", {"n_mels": 4, "hop": 3}, 16000)
    loaded, _ = VOCODER.load(path)
    assert torch.equal(loaded.proj.weight, model.proj.weight) and not loaded.training
    assert FORMATS["torchmusic.test-vocoder"][1] == "torchmusic vocode"


def test_other_formats_name_the_file(tmp_path):
    from torchmusic.models import load_classifier

    path = VOCODER.save(
        tmp_path / "v.safetensors", VOCODERS.build("toy"), ToyVocoderSpec("toy", {})
    )
    with pytest.raises(DataError, match=r"vocoder model file.*torchmusic vocode"):
        load_classifier(path)


def test_registry_suggests_close_names():
    with pytest.raises(
        ParameterError, match=r"unknown vocoder architecture 'tyo'.*did you mean 'toy'"
    ):
        VOCODERS.get("tyo")
    with pytest.raises(ParameterError, match="unknown setting"):
        VOCODERS.make_config("toy", {"n_mel": 3})
    with pytest.raises(ParameterError, match="not a registered vocoder"):
        VOCODERS.name_of(nn.Linear(2, 2))
    assert VOCODERS.name_of(VOCODERS.build("toy")) == "toy" and "toy" in VOCODERS
