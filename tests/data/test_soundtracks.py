"""Soundtrack packages: finding the files, licences per track, the by-track split, the files.

A fake ``/usr/share`` in tmp_path stands in for the Debian packages (tiny OGG files
at the packages' paths), so these tests need none of them installed.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.data.soundtracks import (
    MANIFEST_COLUMNS,
    PACKAGES,
    SoundtrackTrack,
    soundtrack_tracks,
    split_tracks,
    write_licences,
    write_vocoder_manifest,
)
from torchmusic.errors import DataError, ParameterError

SR = 8000
WESNOTH = "games/wesnoth/1.16/data/core/music"
WARZONE = "games/warzone2100/music"


def _ogg(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * SR)) / SR
    sf.write(path, 0.3 * np.sin(2 * np.pi * 330 * t), SR, format="OGG", subtype="VORBIS")


@pytest.fixture
def fake_share(tmp_path: Path) -> Path:
    """Wesnoth (4 tracks + silence.ogg), Warzone (menu, an album), HyperRogue (music + a sound)."""
    root = tmp_path / "share"
    for stem in ("battle", "return_to_wesnoth", "loyalists", "victory", "silence"):
        _ogg(root / WESNOTH / f"{stem}.ogg")
    _ogg(root / WARZONE / "menu.opus")
    album = root / WARZONE / "albums" / "aftermath_soundtrack"
    for name in ("menu_enhanced.opus", "track17.opus"):
        _ogg(album / name)
    (album / "album.json").write_text(
        json.dumps({"tracks": [{"filename": "track17.opus", "title": "Nuclear Heartbeat"}]})
    )
    _ogg(root / "hyperrogue/music/hr-domina-hunting.ogg")
    _ogg(root / "hyperrogue/sounds/click.ogg")  # an effect: not music, never listed
    return root


def test_finder_reads_licence_and_authors_per_track(fake_share):
    tracks = {t.path.name: t for t in soundtrack_tracks(fake_share)}
    assert set(tracks) == {
        "battle.ogg", "return_to_wesnoth.ogg", "loyalists.ogg", "victory.ogg",
        "menu.opus", "menu_enhanced.opus", "track17.opus", "hr-domina-hunting.ogg",
    }  # fmt: skip
    assert tracks["battle.ogg"].licence == "GPL-2+"
    assert tracks["battle.ogg"].attribution == "Aleksi Aubry-Carlson (Aleksi)"
    assert tracks["return_to_wesnoth.ogg"].licence == "CC-BY-SA-4.0"
    assert tracks["track17.opus"].title == "Nuclear Heartbeat"
    assert tracks["track17.opus"].licence == "CC-BY-SA-3.0+ or GPL-2+"
    assert (
        tracks["menu.opus"].licence == "GPL-2+"
        and "Martin Severn" in tracks["menu.opus"].attribution
    )
    # A remaster and its original share a group, so they are split together.
    assert tracks["menu.opus"].group == tracks["menu_enhanced.opus"].group
    assert tracks["battle.ogg"].group != tracks["loyalists.ogg"].group
    assert tracks["hr-domina-hunting.ogg"].attribution == "Lincoln Domina"
    assert tracks["hr-domina-hunting.ogg"].package == "hyperrogue-music"


def test_finder_package_filter_and_errors(fake_share, tmp_path):
    only = soundtrack_tracks(fake_share, packages=["hyperrogue-music"])
    assert [t.path.name for t in only] == ["hr-domina-hunting.ogg"]
    with pytest.raises(DataError, match="apt-get install singularity-music"):
        soundtrack_tracks(fake_share, packages="singularity-music")
    with pytest.raises(
        DataError, match=re.escape("apt-get install wesnoth-1.16-music warzone2100-music")
    ):
        soundtrack_tracks(tmp_path / "empty")
    with pytest.raises(ParameterError, match="'nope'"):
        soundtrack_tracks(fake_share, packages=["nope"])


def test_every_package_names_its_copyright_file():
    for package in PACKAGES:
        assert package.copyright_url == f"file:///usr/share/doc/{package.name}/copyright"
        assert package.licence and package.holders and package.patterns


def _tracks(n: int, package: str = "p") -> list[SoundtrackTrack]:
    return [
        SoundtrackTrack(
            Path(f"/x/{package}/t{i:02d}.ogg"), package, f"t{i}", "GPL-2+", "A", f"{package}/t{i}"
        )
        for i in range(n)
    ]


def test_split_is_by_track_deterministic_and_stratified():
    tracks = _tracks(40, "a") + _tracks(20, "b")
    seconds = {str(t.path): 60.0 for t in tracks}
    first = split_tracks(tracks, seconds=seconds)
    assert first == split_tracks(list(reversed(tracks)), seconds=seconds)  # order-free
    assert first != split_tracks(tracks, seconds=seconds, seed=1)
    sides = [set(map(str, (t.path for t in first[s]))) for s in ("train", "valid", "test")]
    assert sum(map(len, sides)) == 60 and len(set.union(*sides)) == 60  # disjoint, complete
    for split, (n_a, n_b) in {"test": (4, 2), "valid": (4, 2)}.items():
        assert sum(t.package == "a" for t in first[split]) == n_a
        assert sum(t.package == "b" for t in first[split]) == n_b
    # Adding a track never moves another one: the side is a hash of the track's name.
    grown = split_tracks([*tracks, *_tracks(1, "c")], seconds=seconds | {"/x/c/t00.ogg": 60.0})
    for split in ("train", "valid", "test"):
        assert {t.path for t in first[split]} <= {t.path for t in grown[split]}


def test_split_keeps_groups_together():
    tracks = _tracks(10)
    tracks += [
        SoundtrackTrack(Path(f"/x/p/r{i:02d}.ogg"), "p", "r", "GPL-2+", "A", f"p/t{i}")
        for i in range(10)
    ]
    splits = split_tracks(tracks, valid=0.2, test=0.2, min_test_segments=0)
    for items in splits.values():
        groups = {t.group for t in items}
        assert len(items) == 2 * len(groups)  # both members of every group on one side


def test_split_tops_up_the_test_tracks_to_enough_segments():
    tracks = _tracks(20)
    short = {str(t.path): 12.0 for t in tracks}  # two whole 5 s segments each
    splits = split_tracks(tracks, seconds=short, min_test_segments=36)
    assert len(splits["test"]) == 18 and len(splits["valid"]) == 2  # 2 by fraction + 16
    assert sum(int(short[str(t.path)] // 5) for t in splits["test"]) >= 36
    with pytest.raises(DataError, match="min_test_segments=100"):
        split_tracks(tracks, seconds=short, min_test_segments=100)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"valid": 0.5, "test": 0.5}, "must be < 1"),
        ({"test": -0.1}, "test=-0.1"),
        ({"seed": "0"}, "seed='0'"),
        ({"min_test_segments": -1}, "min_test_segments=-1"),
        ({"segment_seconds": 0}, "segment_seconds=0"),
    ],
)
def test_split_rejects_bad_settings(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        split_tracks(_tracks(5), **kwargs)


def test_manifest_and_licences(fake_share, tmp_path):
    tracks = soundtrack_tracks(fake_share)
    splits = split_tracks(tracks, valid=0.2, test=0.2, min_test_segments=0)
    manifest = write_vocoder_manifest(tmp_path / "out" / "manifest.csv", splits)
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert sorted(r["path"] for r in rows) == sorted(str(t.path) for t in tracks)
    assert {float(r["seconds"]) for r in rows} == {0.5}
    assert {r["split"] for r in rows} <= {"train", "valid", "test"}
    licences = write_licences(tmp_path / "out" / "LICENSES.md", tracks).read_text()
    for needle in (
        "## wesnoth-1.16-music", "file:///usr/share/doc/warzone2100-music/copyright",
        "`return_to_wesnoth.ogg`", "CC-BY-SA-4.0", "Lincoln Domina", "Nuclear Heartbeat",
        "GPL-3.0", "not legal advice", "- Copyright: Lincoln Domina\n",
    ):  # fmt: skip
        assert needle in licences, needle
    assert "click.ogg" not in licences


def test_manifest_refuses_a_track_on_two_sides(fake_share, tmp_path):
    tracks = soundtrack_tracks(fake_share)
    with pytest.raises(DataError, match="in both"):
        write_vocoder_manifest(tmp_path / "m.csv", {"train": tracks, "test": tracks[:1]})
    menu = [t for t in tracks if t.path.name.startswith("menu")]
    with pytest.raises(DataError, match="group:warzone-menu"):
        write_vocoder_manifest(tmp_path / "m.csv", {"train": menu[:1], "test": menu[1:]})
    with pytest.raises(DataError, match="no tracks"):
        write_licences(tmp_path / "L.md", [])
