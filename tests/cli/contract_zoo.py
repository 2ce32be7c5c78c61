"""The bad-input zoo of the command-line contract suite (``test_contract*.py``).

:func:`build_zoo` writes, into one folder, every kind of bad input a user hands the
command line by mistake (and a few good files to check that a batch goes on):
broken and odd audio files, broken and wrong model files, broken manifests,
malformed listening data and broken MIDI. Everything is tiny, so the whole zoo is
written in well under a second.
"""

from __future__ import annotations

import csv
import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
MODELFILES = REPO / "tests" / "fixtures" / "modelfiles"
#: The tiny classifier fixture (simple_cnn, labels kick/snare, 8 kHz, 0.5 s clips).
CLASSIFIER = MODELFILES / "classifier.safetensors"
GENERATOR = MODELFILES / "generator.safetensors"
RECOMMENDER = MODELFILES / "recommender_popularity.safetensors"

#: A minimal valid PNG (1x1 pixel).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def tone(path: Path, *, seconds: float = 1.0, sr: int = 8000, channels: int = 1,
         freq: float = 440.0, subtype: str | None = None) -> Path:  # fmt: skip
    t = np.arange(max(1, int(seconds * sr))) / sr
    y = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels > 1:
        y = np.stack([y * (1 + c) / channels for c in range(channels)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, subtype=subtype)
    return path


def _audio(root: Path) -> dict[str, Path]:
    a = root / "audio"
    a.mkdir()
    z: dict[str, Path] = {}
    z["good"] = tone(a / "good.wav")
    z["unicode"] = tone(a / "Café del mar – take 2.wav", freq=660.0)
    z["zero"] = a / "zero.wav"
    z["zero"].write_bytes(b"")
    rng = np.random.default_rng(0)
    for ext in ("wav", "mp3", "flac"):
        z[f"random_{ext}"] = a / f"random.{ext}"
        z[f"random_{ext}"].write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    full = tone(root / "scratch_full.wav", seconds=0.5).read_bytes()
    z["truncated"] = a / "truncated.wav"
    z["truncated"].write_bytes(full[:30])  # cut inside the header
    # A header that claims 10x the samples the file holds.
    over = bytearray(full)
    data_at = over.index(b"data")
    (n,) = struct.unpack("<I", over[data_at + 4 : data_at + 8])
    over[data_at + 4 : data_at + 8] = struct.pack("<I", n * 10)
    over[4:8] = struct.pack("<I", len(over) - 8 + n * 9)
    z["overclaim"] = a / "overclaim.wav"
    z["overclaim"].write_bytes(bytes(over))
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        y = np.full(4000, 0.1, dtype=np.float32)
        y[1000] = value
        z[name] = a / f"{name}.wav"
        sf.write(z[name], y, 8000, subtype="FLOAT")
    z["six"] = tone(a / "surround51.wav", channels=6)
    z["one_sample"] = a / "one_sample.wav"
    sf.write(z["one_sample"], np.array([0.1], dtype=np.float32), 8000)
    z["sr8k"] = tone(a / "rate8k.wav", sr=8000)
    z["sr96k"] = tone(a / "rate96k.wav", sr=96000, seconds=0.6)
    z["png"] = a / "picture.wav"
    z["png"].write_bytes(PNG)
    z["dir"] = a / "x.wav"
    z["dir"].mkdir()
    (root / "scratch_full.wav").unlink()
    return z


def _loop(root: Path) -> dict[str, Path]:
    """A folder with a good file, a symlink loop (a.wav <-> b.wav), a link to itself
    and a link to its parent folder (a directory cycle)."""
    d = root / "loop"
    d.mkdir()
    tone(d / "ok.wav")
    os.symlink("b.wav", d / "a.wav")
    os.symlink("a.wav", d / "b.wav")
    os.symlink("self.wav", d / "self.wav")
    (d / "sub").mkdir()
    os.symlink("..", d / "sub" / "up")
    return {"loop_dir": d}


def _models(root: Path) -> dict[str, Path]:
    m = root / "models"
    m.mkdir()
    z: dict[str, Path] = {}
    z["pickle_pt"] = m / "model.pt"
    z["pickle_pt"].write_bytes(pickle.dumps({"state_dict": {"w": [1.0, 2.0]}}))
    z["pickle_st"] = m / "pickled.safetensors"
    z["pickle_st"].write_bytes(pickle.dumps({"weights": list(range(10))}))
    data = CLASSIFIER.read_bytes()
    z["truncated_model"] = m / "truncated.safetensors"
    z["truncated_model"].write_bytes(data[: len(data) // 2])
    z["classifier"] = CLASSIFIER
    z["generator"] = GENERATOR
    z["recommender"] = RECOMMENDER
    return z


def _write_rows(path: Path, rows: list[list[str]], encoding: str) -> Path:
    with open(path, "w", newline="", encoding=encoding) as f:
        csv.writer(f).writerows(rows)
    return path


def _manifests(root: Path, audio: dict[str, Path]) -> dict[str, Path]:
    m = root / "manifests"
    m.mkdir()
    good, uni = os.path.relpath(audio["good"], m), os.path.relpath(audio["unicode"], m)
    z: dict[str, Path] = {}
    z["manifest_good"] = _write_rows(
        m / "good.csv",
        [["path", "label", "split"], [good, "kick", "test"], [uni, "snare", "test"]],
        "utf-8",
    )
    z["manifest_missing_col"] = _write_rows(m / "nolabel.csv", [["path"], [good]], "utf-8")
    z["manifest_unknown_label"] = _write_rows(
        m / "unknown.csv", [["path", "label"], [good, "kazoo"], [uni, "kick"]], "utf-8"
    )
    z["manifest_latin1"] = _write_rows(
        m / "latin1.csv",
        [
            ["path", "label", "note"],
            [good, "kick", "café"],
            [os.path.relpath(audio["sr8k"], m), "kick", "crème"],
        ],
        "latin-1",
    )
    z["manifest_utf16"] = _write_rows(
        m / "utf16.csv",
        [["path", "label", "note"], [good, "kick", "ü"], [uni, "snare", "é"]],
        "utf-16",
    )
    z["manifest_undecodable"] = m / "binary.csv"
    z["manifest_undecodable"].write_bytes(b"path,label\n\x81\x00\xfe\xff\x00\x9d,kick\n" * 3)
    z["manifest_badfile"] = _write_rows(
        m / "with_bad_file.csv",
        [
            ["path", "label"],
            [good, "kick"],
            [os.path.relpath(audio["zero"], m), "snare"],
            [uni, "snare"],
        ],
        "utf-8",
    )
    z["manifest_ragged"] = m / "ragged.csv"
    z["manifest_ragged"].write_text(f"path,label\n{good},kick\n{uni},snare,extra,cells\n")
    return z


def _lastfm(folder: Path, user_artists: str) -> Path:
    folder.mkdir()
    (folder / "artists.dat").write_text(
        "id\tname\turl\tpictureURL\n1\tA\tu\tp\n2\tB\tu\tp\n3\tC\tu\tp\n"
    )
    (folder / "tags.dat").write_text("tagID\ttagValue\n1\trock\n")
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n" + user_artists)
    (folder / "user_taggedartists.dat").write_text(
        "userID\tartistID\ttagID\tday\tmonth\tyear\n1\t1\t1\t1\t1\t2009\n"
    )
    return folder


def _listening(root: Path) -> dict[str, Path]:
    good = "1\t1\t10\n1\t2\t5\n2\t2\t7\n2\t3\t1\n3\t1\t4\n"
    return {
        "lastfm_good": _lastfm(root / "lastfm_good", good),
        "lastfm_bigplay": _lastfm(root / "lastfm_bigplay", good + "3\t3\t99999999999999999999\n"),
        "lastfm_twocol": _lastfm(root / "lastfm_twocol", good + "3\t3\n"),
    }


def _midi(root: Path) -> dict[str, Path]:
    import symusic

    m = root / "midi"
    m.mkdir()
    z: dict[str, Path] = {}
    z["midi_random"] = m / "random.mid"
    z["midi_random"].write_bytes(np.random.default_rng(1).integers(0, 256, 512, np.uint8).tobytes())
    score = symusic.Score(480)
    track = symusic.Track("drums", program=0, is_drum=True)
    for i in range(16):
        track.notes.append(symusic.Note(i * 240, 120, 36 + (i % 3) * 2, 100))
    score.tracks.append(track)
    z["midi_drums"] = m / "drums.mid"
    score.dump_midi(str(z["midi_drums"]))
    return z


def build_zoo(root: Path) -> dict[str, Path]:
    """Write the zoo under ``root`` and return its entries by name."""
    root.mkdir(parents=True, exist_ok=True)
    z: dict[str, Path] = {}
    audio = _audio(root)
    z.update(audio)
    z.update(_loop(root))
    z.update(_models(root))
    z.update(_manifests(root, audio))
    z.update(_listening(root))
    z.update(_midi(root))
    z["existing_file"] = root / "existing.txt"
    z["existing_file"].write_text("do not overwrite me\n")
    z["typo_catalog"] = root / "catalgo"  # never created
    z["root"] = root
    return z


def snapshot(path: Path) -> dict[str, bytes] | None:
    """Every file under ``path`` (or ``path`` itself) with its bytes; None if absent."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_file():
        return {"": path.read_bytes()}
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[p.relative_to(path).as_posix()] = p.read_bytes()
        elif p.is_dir():
            out[p.relative_to(path).as_posix() + "/"] = b""
    return out


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst
