"""Catalogs of ``music-embed``: v2 (fused) catalogs reopen from their own copy of the
encoder; v1 catalogs (the encoder alone) keep working and are told how to upgrade."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from catalog_helpers import write_tone

from torchmusic.cli.main import main
from torchmusic.embed.fused import FusedEmbedder
from torchmusic.errors import DataError
from torchmusic.recommend.catalog import Catalog


@pytest.fixture
def music(tmp_path, audio_dir):
    folder = tmp_path / "music"
    shutil.copytree(audio_dir, folder)
    return folder


def test_a_music_embed_catalog_reopens_with_the_same_fused_embedder(tmp_path, music):
    cat = Catalog(tmp_path / "c")
    report = cat.add([music], embedder="music-embed", workers=0)
    assert len(report.added) == 8
    model = cat.model
    assert (model.name, model.version, model.dim) == ("music-embed", "2", 352)
    assert cat.info()["needs_reindex"] is None
    assert cat.model_path.is_file()  # its own copy of the encoder
    again = Catalog(tmp_path / "c")
    emb = again.embedder()
    assert isinstance(emb, FusedEmbedder) and emb.info.fingerprint == model.fingerprint
    q = write_tone(tmp_path / "q.wav", 445.0, seed=5)
    hits = again.similar(q, k=2)
    assert len(hits) == 2 and np.isfinite([h.score for h in hits]).all()
    # The encoder alone cannot join it: other size, other model.
    with pytest.raises(DataError, match=r"dim 256 .*cannot join catalog.*dim 352"):
        again.add([write_tone(tmp_path / "x.wav", 700.0)], embedder="music-embed-encoder")
    assert len(again) == 8


def test_a_music_embed_v1_catalog_works_and_is_told_to_rebuild(tmp_path, music, capsys):
    root = tmp_path / "old"
    cat = Catalog(root)
    cat.add([music], embedder="music-embed-encoder", workers=0)  # what v1 catalogs hold
    assert (cat.model.name, cat.model.dim) == ("contrastive", 256)
    advice = cat.info()["needs_reindex"]
    assert "music-embed v1" in advice and "--model music-embed" in advice
    assert len(Catalog(root).similar(1, k=3)) == 3  # still searchable with its own encoder
    with pytest.raises(DataError, match=r"dim 352 .*cannot join catalog.*dim 256"):
        cat.add([write_tone(tmp_path / "x.wav", 700.0)], embedder="music-embed")
    assert len(cat) == 8
    assert main(["catalog", "info", "-c", str(root)]) == 0
    assert "reindex     needed: built with music-embed v1" in capsys.readouterr().out
