"""A killed ``catalog add`` leaves a consistent catalog; readers query while a writer adds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from catalog_helpers import FAKE_MODEL, exact_top_k, random_vectors

from torchmusic.recommend.catalog import Catalog

KILL_AFTER_FIRST_BATCH = """
import os, sys
from torchmusic.recommend.catalog import Catalog
def stop(report):
    os._exit(3)  # as abrupt as SIGKILL: no cleanup, no atexit
Catalog(sys.argv[1]).add([sys.argv[2]], embedder="mfcc", batch_size=3, workers=0, on_batch=stop)
"""

KILL_DURING_SECOND_BATCH = """
import os, sys
from torchmusic.embed import MFCCEmbedder
from torchmusic.recommend.catalog import Catalog
class Dies(MFCCEmbedder):
    calls = 0
    def embed_with_raw(self, y):  # what Catalog.add calls (vector + raw MFCC statistics)
        Dies.calls += 1
        if Dies.calls == 5:  # inside the second batch, before it is committed
            os._exit(3)
        return super().embed_with_raw(y)
Catalog(sys.argv[1]).add([sys.argv[2]], embedder=Dies(), batch_size=3, workers=0)
"""

WRITER = """
import sys, time
import numpy as np
from torchmusic.embed import ModelInfo
from torchmusic.recommend.catalog import Catalog
model = ModelInfo(name="test", version="1", dim=8, fingerprint="f" * 32, source="")
rng = np.random.default_rng(1)
cat = Catalog(sys.argv[1])
for b in range(int(sys.argv[2])):
    v = rng.standard_normal((25, 8)).astype(np.float32)
    names = [f"w{b}-{i}" for i in range(25)]
    cat.add_embeddings(v, paths=names, model=model, content_hashes=names)
    time.sleep(0.01)
"""


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _assert_consistent(cat: Catalog, n: int) -> None:
    assert len(cat) == n
    tracks = cat.tracks()
    assert len({t.metadata["name"] for t in tracks}) == n  # no duplicated content
    for t in tracks:
        found = cat.similar(t.id, k=n)
        assert len(found) == n - 1 and t.id not in {f.id for f in found}


@pytest.mark.parametrize(
    ("script", "committed"), [(KILL_AFTER_FIRST_BATCH, 3), (KILL_DURING_SECOND_BATCH, 3)]
)
def test_a_killed_add_leaves_a_consistent_catalog(tmp_path, audio_dir, script, committed):
    root = tmp_path / "c"
    proc = _run(script, str(root), str(audio_dir))
    assert proc.returncode == 3, proc.stderr
    cat = Catalog(root)
    _assert_consistent(cat, committed)
    assert cat.generation == 1
    assert cat.events and "rebuilt from SQLite" in cat.events[0]
    # Running the add again finishes the job: committed files are not embedded twice.
    report = cat.add([audio_dir], batch_size=3)
    assert len(report.duplicates) == committed and len(report.added) == 8 - committed
    _assert_consistent(cat, 8)


def test_readers_query_while_one_process_adds(tmp_path):
    root = tmp_path / "c"
    seed = random_vectors(50, seed=0)
    Catalog(root).add_embeddings(
        seed,
        paths=[f"s{i}" for i in range(50)],
        model=FAKE_MODEL,
        content_hashes=[f"s{i}" for i in range(50)],
    )
    batches = 15
    env = dict(os.environ, OMP_NUM_THREADS="1")
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(root), str(batches)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader = Catalog(root)
    sizes, queries = [], 0
    try:
        deadline = time.monotonic() + 240
        while writer.poll() is None and time.monotonic() < deadline:
            found = reader.similar(seed[queries % 50], k=5)
            # An original track is its own nearest neighbour whatever was added.
            assert found[0].id == queries % 50 + 1 and found[0].score == pytest.approx(
                1.0, abs=1e-5
            )
            sizes.append(len(reader))
            queries += 1
    finally:
        writer.wait(timeout=60)
    assert writer.returncode == 0, writer.stderr.read()
    assert queries > 0 and sizes == sorted(sizes)  # never saw a partial or shrinking catalog
    assert all((s - 50) % 25 == 0 for s in sizes)  # whole batches only
    total = 50 + 25 * batches
    assert len(reader) == total
    # After the writer: the reader's index equals exact search over everything.
    ids = np.array([t.id for t in reader.tracks()])
    import sqlite3

    conn = sqlite3.connect(reader.db_path)
    blobs = [r[0] for r in conn.execute("SELECT embedding FROM tracks ORDER BY id")]
    conn.close()
    vectors = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(total, 8)
    query = random_vectors(1, seed=77)[0]
    expected = exact_top_k(vectors, ids, query, 10)
    assert [n.id for n in reader.similar(query, k=10)] == expected
    assert reader.events == []
