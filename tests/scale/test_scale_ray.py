"""The Ray Data engine on a local Ray started here: the same results as the local path.

One Ray instance for the module (2 CPUs, no dashboard, usage stats off) and actors
with fractional CPUs (whole-CPU actors deadlock on 2 cores: the read and write tasks
need a CPU too). Real recordings from ../shared/data/recordings, the ``mfcc``
embedder and tiny model files; every job compares with the single-machine path
(``embed_tracks``, ``predict_paths``, ``catalog add``, the local CLI).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # Ray's own settings
    # One Ray instance for the module: `make test` (-n 2 --dist loadgroup) keeps these
    # tests on one worker instead of starting a second Ray on the other.
    pytest.mark.xdist_group("ray"),
]

ray = pytest.importorskip(
    "ray", reason="ray is not installed: the Ray engine's tests need pip install 'torchmusic[ray]'"
)

from torchmusic.cli.main import main  # noqa: E402
from torchmusic.data.discover import collect_inputs, content_hash  # noqa: E402
from torchmusic.data.tables import iter_table_rows  # noqa: E402
from torchmusic.embed import embed_tracks  # noqa: E402
from torchmusic.errors import DataError, DependencyError  # noqa: E402
from torchmusic.recommend.catalog import Catalog, store  # noqa: E402
from torchmusic.scale import embed_dataset, predict_dataset  # noqa: E402
from torchmusic.serve.predict import predict_paths  # noqa: E402

#: Short real recordings: a trumpet (5.3 s), a robin (2.7 s), speech (13.9 s).
RECORDINGS = (
    "sorohanro_-_solo-trumpet-06.ogg",
    "456440__inspectorj__bird-whistling-robin-single-13.ogg",
    "198-209-0000.ogg",
)
LABELS = ["blues", "country", "jazz", "rock"]


@pytest.fixture(scope="module")
def local_ray():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from a test run
        # address="local": a new instance even when a cluster runs on this machine.
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield ray
        ray.shutdown()


@pytest.fixture(scope="module")
def files(shared_data, tmp_path_factory) -> dict[str, object]:
    """The recordings, a corrupt file among them and a missing one."""
    folder = tmp_path_factory.mktemp("ray_inputs")
    broken = folder / "broken.ogg"
    broken.write_bytes(b"OggS" + bytes(range(256)) * 8)  # an Ogg header, then garbage
    good = [shared_data / "recordings" / name for name in RECORDINGS]
    return {"good": good, "broken": broken, "missing": folder / "missing.ogg"}


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory) -> Path:
    """A tiny untrained shortchunk classifier (3 s clips, 16 mel bands) in a model file."""
    from torchmusic.features import FeatureConfig
    from torchmusic.models import ClassifierSpec, build_classifier, clip_frames, save_classifier

    feature = FeatureConfig(n_mels=16, n_fft=512)
    torch.manual_seed(1)
    model = build_classifier(
        "shortchunk", n_mels=16, n_frames=clip_frames(3.0, feature), n_classes=4, width=2
    )
    with torch.no_grad():  # spread the logits, so rankings are not ties
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.copy_(torch.tensor([0.5, 2.0, -1.0, 0.0]))
    spec = ClassifierSpec("shortchunk", {}, LABELS, False, feature.to_dict(), 3.0)
    out = tmp_path_factory.mktemp("ray_models") / "genre.safetensors"
    return save_classifier(out, model.eval(), spec)


@pytest.fixture(scope="module")
def embedding_file(tmp_path_factory) -> Path:
    """A tiny untrained contrastive embedding model (1 s clips, 8-d) in a model file."""
    from torchmusic.features import FeatureConfig
    from torchmusic.models import clip_frames
    from torchmusic.models.embed import EmbeddingModelSpec, build_embedder, save_embedding_model

    feature = FeatureConfig.from_dict(
        {"kind": "logmel", "n_mels": 16, "n_fft": 512, "hop_length": 256}
    )
    torch.manual_seed(0)
    model = build_embedder(
        "contrastive",
        n_mels=16,
        n_frames=clip_frames(1.0, feature),
        dim=8,
        proj_dim=4,
        channels=[4, 8],
    ).eval()
    spec = EmbeddingModelSpec("contrastive", {}, feature.to_dict(), 1.0)
    out = tmp_path_factory.mktemp("ray_models") / "emb.safetensors"
    return save_embedding_model(out, model, spec)


def _catalog_state(root: Path) -> dict[str, object]:
    """What a catalog holds: tracks (path, name, metadata), vectors and MFCC statistics."""
    with Catalog(root) as cat:
        conn = cat._connection()
        model = cat.model
        tracks = {n.path: (n.name, n.metadata) for n in cat.tracks()}
        ids, vectors = store.all_vectors(conn, model.dim)
        rows = store.get_rows(conn, [int(i) for i in ids])
        by_path = {rows[int(i)][0]: v for i, v in zip(ids, vectors, strict=True)}
        raw = (
            {rows[i][0]: v for i, v in store.raw_features(conn, 60).items()}
            if (model.name == "mfcc")
            else {}
        )
    return {"model": model, "tracks": tracks, "vectors": by_path, "raw": raw}


def _assert_same_catalog(a: Path, b: Path) -> None:
    sa, sb = _catalog_state(a), _catalog_state(b)
    assert sa["model"] == sb["model"]
    assert sa["tracks"] == sb["tracks"]
    assert sa["vectors"].keys() == sb["vectors"].keys()
    for path, v in sa["vectors"].items():
        np.testing.assert_allclose(v, sb["vectors"][path], atol=1e-6)
    assert sa["raw"].keys() == sb["raw"].keys()
    for path, v in sa["raw"].items():
        np.testing.assert_allclose(v, sb["raw"][path], rtol=1e-6, atol=1e-6)


# -- the Python API -------------------------------------------------------------------------


def test_embed_rows_equal_embed_tracks(local_ray, files):
    inputs = [*files["good"], files["broken"], files["missing"]]
    report = embed_dataset(inputs, "mfcc", concurrency=2, num_cpus=0.5, batch_size=2)
    local, local_failed = embed_tracks(inputs, "mfcc", progress=False)

    rows = report.rows
    assert [r["path"] for r in rows] == [str(p) for p in inputs]  # input order
    ok = [r for r in rows if r["error"] is None]
    assert [r["path"] for r in ok] == [str(p) for p in local.paths]
    np.testing.assert_allclose(np.array([r["vector"] for r in ok]), local.vectors, atol=1e-6)
    assert [r["name"] for r in ok] == local.names
    np.testing.assert_allclose([r["duration"] for r in ok], local.durations)
    assert [r["content_hash"] for r in ok] == [content_hash(p) for p in files["good"]]
    assert all(len(r["raw"]) == 60 for r in ok)  # what a catalog refits mfcc from
    assert json.loads(ok[0]["model"]) == local.info.to_dict()
    # The corrupt and the missing file are error rows with the local path's messages.
    assert report.tracks == 3 and len(report.failed) == 2
    by_path = {str(f.path): f.error for f in local_failed}
    for row in rows[3:]:
        assert row["vector"] is None and row["error"] == by_path[row["path"]]
    assert rows[4]["error"] == "no such file or folder"


def test_parquet_from_bytes_imports_like_catalog_add(local_ray, files, tmp_path):
    inputs = [*files["good"], files["broken"]]
    out = tmp_path / "emb.parquet"
    report = embed_dataset(inputs, "mfcc", output=out, source="bytes", concurrency=1)
    assert report.output == str(out) and report.format == "parquet"
    assert out.is_dir() and report.tracks == 3
    assert [str(f.path) for f in report.failed] == [str(files["broken"])]
    rows = [r for batch in iter_table_rows(out) for r in batch]
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in inputs)
    # Names relative to the deepest common folder, as the local path names them.
    assert {r["name"] for r in rows} == {name for _, name in collect_inputs(inputs)[0]}

    imported = Catalog(tmp_path / "imported").import_embeddings(out)
    added = Catalog(tmp_path / "added").add(inputs, embedder="mfcc")
    assert len(imported.added) == len(added.added) == 3
    assert [str(f.path) for f in imported.failed] == [str(f.path) for f in added.failed]
    _assert_same_catalog(tmp_path / "imported", tmp_path / "added")
    # Known content is skipped: importing again adds nothing.
    again = Catalog(tmp_path / "imported").import_embeddings(out)
    assert not again.added and len(again.duplicates) == 3

    # Written again over the table (overwrite), and refused without it.
    with pytest.raises(Exception, match="exists"):
        embed_dataset(inputs, "mfcc", output=out, concurrency=1)


def test_import_refuses_another_model(files, tmp_path, embedding_file):
    # The actor class is plain Python: one call makes a table without starting a job.
    import pyarrow.parquet as pq

    from torchmusic.scale.ray_workers import EmbedActor

    out = tmp_path / "emb.parquet"
    pq.write_table(EmbedActor("mfcc")({"path": np.array([str(files["good"][0])])}), out)
    other = Catalog(tmp_path / "other")
    other.add(files["good"][1:2], embedder=embedding_file)
    generation = other.generation
    with pytest.raises(DataError, match="cannot join catalog"):
        other.import_embeddings(out)
    assert other.generation == generation and len(other) == 1


def test_predict_jsonl_round_trip_equals_predict_paths(local_ray, files, classifier_file, tmp_path):
    inputs = [*files["good"], files["broken"]]
    out = tmp_path / "pred.jsonl"
    report = predict_dataset(
        inputs, classifier_file, top_k=2, timeline=True, output=out, concurrency=1
    )
    assert report.tracks == 3 and [str(f.path) for f in report.failed] == [str(files["broken"])]
    rows = {r["path"]: r for batch in iter_table_rows(out) for r in batch}
    local = predict_paths(inputs, model=classifier_file, top_k=2, timeline=True, progress=False)
    assert len(local.predictions) == 3
    for pred in local.predictions:
        want, got = pred.to_dict(), rows[str(pred.path)]
        assert got["error"] is None and got["name"] == want["name"]
        assert got["duration"] == pytest.approx(want["duration"])
        assert [x["label"] for x in got["labels"]] == [x["label"] for x in want["labels"]]
        np.testing.assert_allclose(
            [x["probability"] for x in got["labels"]],
            [x["probability"] for x in want["labels"]],
            atol=1e-6,
        )
        assert len(got["segments"]) == len(want["segments"]) == math.ceil(got["duration"] / 3)
        for g, w in zip(got["segments"], want["segments"], strict=True):
            assert (g["start"], g["end"]) == pytest.approx((w["start"], w["end"]))
            assert [x["label"] for x in g["labels"]] == [x["label"] for x in w["labels"]]
    bad = rows[str(files["broken"])]
    assert bad["labels"] == [] and bad["error"] == local.failed[0].error


# -- the command line -----------------------------------------------------------------------


def test_cli_embed_ray_equals_catalog_add(
    local_ray, files, embedding_file, tmp_path, capsys, monkeypatch
):
    # Relative paths, as typed: the workers run in other folders, so the engine must
    # hand them absolute ones (the model file and the table).
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(embedding_file, "emb.safetensors")
    paths = [str(p) for p in files["good"]]
    common = ["-m", "emb.safetensors", "--no-progress"]
    rc = main(
        ["embed", *paths, *common, "--engine", "ray", "--actors", "1", "--out", "emb.jsonl",
         "-c", "ray_cat"]
    )  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert "3 track(s) added" in capsys.readouterr().out
    assert (tmp_path / "emb.jsonl").is_dir()
    assert main(["catalog", "add", *paths, *common, "-c", "local_cat"]) == 0
    _assert_same_catalog(tmp_path / "ray_cat", tmp_path / "local_cat")
    # `catalog import` of the same table: the same catalog again.
    assert main(["catalog", "import", "emb.jsonl", "-c", "cli_import"]) == 0
    _assert_same_catalog(tmp_path / "cli_import", tmp_path / "local_cat")


def test_cli_predict_ray_prints_what_the_local_engine_prints(
    local_ray, files, classifier_file, capsys
):
    args = ["predict", str(classifier_file), *map(str, files["good"][:2]), "-k", "2"]
    args += ["--format", "json", "--no-progress"]
    assert main(args) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--engine", "ray", "--actors", "1"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert remote.keys() == local.keys()
    assert [t["name"] for t in remote["tracks"]] == [t["name"] for t in local["tracks"]]
    for r, w in zip(remote["tracks"], local["tracks"], strict=True):
        assert [x["label"] for x in r["labels"]] == [x["label"] for x in w["labels"]]
        np.testing.assert_allclose(
            [x["probability"] for x in r["labels"]],
            [x["probability"] for x in w["labels"]],
            atol=1e-6,
        )


# -- without Ray ----------------------------------------------------------------------------


def test_a_missing_ray_names_the_extra(monkeypatch):
    from torchmusic.scale.ray_engine import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(DependencyError, match=r"pip install 'torchmusic\[ray\]'"):
        import_ray()


def test_an_address_nobody_listens_on_is_refused_at_once():
    from torchmusic.errors import ParameterError
    from torchmusic.scale.ray_engine import _check_reachable

    with pytest.raises(
        ParameterError, match=r"cannot reach a Ray cluster at address='127.0.0.1:1'"
    ):
        _check_reachable("127.0.0.1:1")
    _check_reachable("auto")  # resolved by Ray itself


def test_embed_table_out_needs_the_ray_engine(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["embed", "a.ogg", "-m", "mfcc", "--out", "emb.parquet"])
    assert exc.value.code == 2 and "needs --engine ray" in capsys.readouterr().err


def test_ray_is_not_imported_by_torchmusic_or_its_cli():
    code = (
        "import sys, torchmusic, torchmusic.scale; from torchmusic.cli.main import build_parser; "
        "build_parser(); print(sorted(m for m in sys.modules if m == 'ray' or "
        "m.startswith('ray.') or m == 'pyarrow'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
