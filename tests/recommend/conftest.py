"""Fixtures: the real Last.fm-2k data, a small slice of it and splits of the slice."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchmusic.recommend import ListeningData, cold_split, load_lastfm, warm_split

#: Users in the test slice: small enough that every recommender fits in about a second.
SLICE_USERS = 200


@pytest.fixture(scope="session")
def lastfm_dir(shared_data: Path) -> Path:
    path = shared_data / "lastfm_2k"
    if not (path / "user_artists.dat").is_file():
        pytest.skip(f"{path} lacks the Last.fm-2k files")
    return path


@pytest.fixture(scope="session")
def lastfm(lastfm_dir: Path) -> ListeningData:
    return load_lastfm(lastfm_dir)


@pytest.fixture(scope="session")
def lastfm_slice(lastfm: ListeningData) -> ListeningData:
    return lastfm.head(SLICE_USERS)


@pytest.fixture(scope="session")
def warm(lastfm_slice):
    return warm_split(lastfm_slice, seed=0)


@pytest.fixture(scope="session")
def cold(lastfm_slice):
    return cold_split(lastfm_slice, seed=0)


@pytest.fixture(scope="session")
def lastfm_slice_dir(lastfm_slice, tmp_path_factory) -> Path:
    """The slice written back in the Last.fm-2k file layout (for the command line)."""
    d = tmp_path_factory.mktemp("lastfm_slice")
    s = lastfm_slice
    with open(d / "artists.dat", "w", encoding="utf-8") as f:
        f.write("id\tname\turl\tpictureURL\n")
        for item, name in zip(s.items, s.item_names, strict=True):
            f.write(f"{item}\t{name}\thttp://x\thttp://y\n")
    with open(d / "tags.dat", "w", encoding="utf-8") as f:
        f.write("tagID\ttagValue\n")
        for i, tag in enumerate(s.tags):
            f.write(f"{i + 1}\t{tag}\n")
    coo = s.plays.tocoo()
    with open(d / "user_artists.dat", "w", encoding="utf-8") as f:
        f.write("userID\tartistID\tweight\n")
        for r, c, v in zip(coo.row, coo.col, coo.data, strict=True):
            f.write(f"{s.users[r]}\t{s.items[c]}\t{int(v)}\n")
    with open(d / "user_taggedartists.dat", "w", encoding="utf-8") as f:
        f.write("userID\tartistID\ttagID\tday\tmonth\tyear\n")
        for u, i, t in s.tag_assignments.tolist():
            f.write(f"{s.users[u]}\t{s.items[i]}\t{t + 1}\t1\t1\t2009\n")
    return d
