"""Each sequence model learns: a few optimizer steps on a real tune's REMI tokens lower the loss.

The tune is J.S. Bach's chorale BWV 66.6 from music21's bundled corpus, written to
MIDI and tokenized with miditok's REMI (all four voices, one stream per track,
concatenated).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from torchmusic.models.symbolic import build_generator

SEQ = 64


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tune(tmp_path_factory) -> tuple[torch.Tensor, int]:
    """``(ids (4, SEQ+1), vocab_size)``: four windows of a real chorale's tokens."""
    music21 = pytest.importorskip("music21")
    miditok = pytest.importorskip("miditok")
    symusic = pytest.importorskip("symusic")
    path = tmp_path_factory.mktemp("tune") / "bwv66.6.mid"
    music21.corpus.parse("bach/bwv66.6").write("midi", fp=str(path))
    tok = miditok.REMI()
    ids = [i for seq in tok.encode(symusic.Score(str(path))) for i in seq.ids]
    assert len(ids) >= 4 * (SEQ + 1)
    windows = torch.tensor([ids[i * SEQ : i * SEQ + SEQ + 1] for i in range(4)])
    return windows, tok.vocab_size


def _fit(model, loss_fn, steps=25, lr=3e-3):
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    ("arch", "config"),
    [
        ("transformer", {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": SEQ, "dropout": 0.0}),
        ("transformer", {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": SEQ,
                         "dropout": 0.0, "positions": "learned"}),
        ("lstm", {"n_embd": 32, "hidden": 64, "dropout": 0.0}),
    ],
)  # fmt: skip
def test_language_models_learn(tune, arch, config):
    windows, vocab = tune
    torch.manual_seed(0)
    model = build_generator(arch, vocab_size=vocab, **config)
    x, y = windows[:, :-1], windows[:, 1:]

    def loss_fn():
        logits, _ = model(x)
        return F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))

    losses = _fit(model, loss_fn)
    assert losses[0] > 5.0  # ~ln(vocab) at initialisation
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("hierarchical", [False, True])
def test_vae_learns(tune, hierarchical):
    windows, vocab = tune
    torch.manual_seed(0)
    model = build_generator(
        "vae", vocab_size=vocab, seq_len=SEQ, latent=16, enc_hidden=32, dec_hidden=64,
        n_embd=32, hierarchical=hierarchical, n_segments=4, conductor_hidden=32,
    )  # fmt: skip
    ids = windows[:, :SEQ]
    losses = _fit(model, lambda: model.loss(ids, beta=0.1, free_bits=2.0)["loss"])
    assert losses[-1] < 0.7 * losses[0], losses
