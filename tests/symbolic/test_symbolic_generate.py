"""``generate_pieces`` / ``interpolate_pieces``: the generation policy as a library API.

Most tests use the shipped ``folk`` model with a few bars (about a second each);
the stopping rules are tested with a scripted "model" that emits a fixed token
sequence, and VAEs / piano-roll models with tiny untrained networks.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.models.symbolic import GeneratorSpec, build_generator, generate, load_generator
from torchmusic.symbolic import (
    ConditionVocab,
    EmptyPieceError,
    build_tokenizer,
    decode,
    encode,
    generate_pieces,
    interpolate_pieces,
    notes_to_score,
    read_midi,
    tokenizer_from_dict,
    tokenizer_to_dict,
    write_midi,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def folk():
    import torchmusic.pretrained as pretrained

    if "folk" not in pretrained.available_models():
        pytest.skip("the shipped folk model is not installed")
    return load_generator("folk")


def _midi(score) -> bytes:
    return bytes(score.dumps_midi())


def _melody(n_notes: int = 8):
    """Quarter notes C4, C#4, ... in 4/4: ``n_notes / 4`` full bars."""
    return notes_to_score(
        [float(i) for i in range(n_notes)], [1.0] * n_notes, [60 + i % 24 for i in range(n_notes)]
    )


# -- the pre-API policy, verbatim, as the reference for byte identity ---------------------
def _old_cli_piece(model, spec, *, bars, conditions, seed, temperature=1.0, top_p=0.95):
    """What ``torchmusic generate`` did before the API (commit cd272ca) for one piece."""
    tok = tokenizer_from_dict(spec.tokenizer)
    vocab = ConditionVocab.from_dict(spec.conditions)
    bos, eos, pad, bar = tok["BOS_None"], tok["EOS_None"], tok.pad_token_id, tok["Bar_None"]
    per_bar = spec.extra.get("tokens_per_bar") or 48.0
    new = generate(
        model,
        [*vocab.encode(conditions), bos],
        max_new_tokens=int(bars * float(per_bar) * 2) + 16,
        temperature=temperature,
        top_k=0,
        top_p=top_p,
        seed=seed,
        eos_id=eos,
        stop=lambda new: new[-1] == bar and new.count(bar) > bars,
        suppress=[bos, pad, *range(vocab.offset, vocab.offset + vocab.size)],
    )
    if new and new[-1] == bar and new.count(bar) > bars:
        new = new[:-1]
    return decode(new, tok)


def test_pieces_are_the_old_cli_pieces_token_for_token(folk):
    # Seeds 100..105 at 1 bar: some of these were empty before (the model began with
    # empty bars); every other piece must be byte-identical to the old policy's.
    model, spec = folk
    new = generate_pieces(folk, n=6, bars=1, top_p=0.95, seed=100)
    kept = 0
    for i, score in enumerate(new):
        old = _old_cli_piece(model, spec, bars=1, conditions={}, seed=100 + i)
        assert score.note_num() > 0
        if old.note_num() > 0:
            assert _midi(score) == _midi(old), f"seed {100 + i}"
            kept += 1
    assert 0 < kept < 6  # both cases were exercised
    jig = generate_pieces(folk, n=1, bars=4, conditions={"tune_type": "jig"}, top_p=0.95, seed=7)
    old = _old_cli_piece(model, spec, bars=4, conditions={"tune_type": "jig"}, seed=7)
    assert _midi(jig[0]) == _midi(old)


def test_the_cli_writes_exactly_the_api_pieces(tmp_path, folk):
    from torchmusic.cli.main import main

    args = ["generate", "--model", "folk", "-n", "2", "--bars", "2", "--seed", "7"]
    args += ["--condition", "tune_type=reel", "--no-png", "--no-wav", "-o", str(tmp_path)]
    assert main(args) == 0
    api = generate_pieces(
        "folk", n=2, bars=2, conditions={"tune_type": "reel"}, top_p=0.95, seed=7
    )  # by shipped name, loaded here
    for seed, score in zip((7, 8), api, strict=True):
        assert (tmp_path / f"folk-{seed}.mid").read_bytes() == _midi(score)


def test_seeds_are_reproducible_and_piece_i_uses_seed_plus_i(folk):
    a = generate_pieces(folk, n=2, bars=2, top_p=0.95, seed=3)
    b = generate_pieces(folk, n=2, bars=2, top_p=0.95, seed=3)
    assert [_midi(s) for s in a] == [_midi(s) for s in b]
    (second,) = generate_pieces(folk, n=1, bars=2, top_p=0.95, seed=4)
    assert _midi(second) == _midi(a[1])
    assert _midi(a[0]) != _midi(a[1])


def test_temperature_zero_is_greedy_and_has_notes(folk):
    # Greedy decoding starts the folk model's pieces with empty bars; they used to end a
    # short piece before its first note (an empty MIDI file, exit 0).
    for conditions in ({}, {"tune_type": "jig"}, {"key": "F#dor"}):
        (a,) = generate_pieces(folk, n=1, bars=2, conditions=conditions, temperature=0)
        (b,) = generate_pieces(folk, n=1, bars=2, conditions=conditions, temperature=0, seed=9)
        assert a.note_num() > 0, conditions
        assert a.tracks[0].notes[0].time < a.ticks_per_quarter * 6  # starts in bar 1
        assert _midi(a) == _midi(b)  # greedy draws no random numbers


def test_conditions_steer_and_bad_ones_list_the_valid_values(folk):
    (jig,) = generate_pieces(folk, n=1, bars=2, conditions={"tune_type": "jig"}, seed=1)
    (reel,) = generate_pieces(folk, n=1, bars=2, conditions={"tune_type": "reel"}, seed=1)
    assert _midi(jig) != _midi(reel)
    with pytest.raises(ParameterError, match=r"unknown tune_type 'polka'; valid values:.*jig"):
        generate_pieces(folk, conditions={"tune_type": "polka"})
    with pytest.raises(ParameterError, match="conditions="):
        generate_pieces(folk, conditions=["tune_type=jig"])


def test_prime_is_continued_from_a_score_or_a_file(tmp_path, folk):
    # Greedy: its first bar has notes (sampled pieces may begin with an empty bar).
    (piece,) = generate_pieces(folk, n=1, bars=2, conditions={"tune_type": "jig"}, temperature=0)
    tok = tokenizer_from_dict(folk[1].tokenizer)
    ids = encode(piece, tok)
    second_bar = [i for i, t in enumerate(ids) if t == tok["Bar_None"]][1]
    primer = decode(ids[:second_bar], tok)  # the first bar
    path = write_midi(primer, tmp_path / "primer.mid")
    (from_score,) = generate_pieces(folk, n=1, bars=1, prime=read_midi(path), seed=5)
    (from_file,) = generate_pieces(folk, n=1, bars=1, prime=path, seed=5)
    assert _midi(from_score) == _midi(from_file)
    first, got = primer.tracks[0].notes[0], from_file.tracks[0].notes[0]
    assert (got.pitch, got.time) == (first.pitch, first.time)
    assert from_file.note_num() > primer.note_num()
    with pytest.raises(ParameterError, match="longer than the model's context of 256 tokens"):
        generate_pieces(folk, prime=_melody(200))
    with pytest.raises(ParameterError, match=r"prime=int"):
        generate_pieces(folk, prime=3)


@pytest.mark.parametrize(
    ("settings", "echo"),
    [
        ({"n": 0}, "n=0"),
        ({"bars": 0}, "bars=0"),
        ({"bars": 2.5}, "bars=2.5"),
        ({"temperature": -1.0}, "temperature=-1.0"),
        ({"temperature": math.inf}, "temperature=inf"),
        ({"temperature": math.nan}, "temperature=nan"),
        ({"temperature": "hot"}, "temperature='hot'"),
        ({"top_k": -1}, "top_k=-1"),
        ({"top_p": 0.0}, "top_p=0.0"),
        ({"top_p": 1.5}, "top_p=1.5"),
        ({"max_tokens": 0}, "max_tokens=0"),
        ({"seed": "x"}, "seed='x'"),
    ],
)
def test_bad_settings_are_refused_before_the_model_is_loaded(settings, echo):
    with pytest.raises(ParameterError) as info:
        generate_pieces("/no/such/model.safetensors", **settings)
    assert echo in str(info.value)


def test_a_bad_model_argument_is_named():
    with pytest.raises(ParameterError, match="model=int"):
        generate_pieces(42)


# -- stopping rules with a scripted model -------------------------------------------------
class _Scripted(torch.nn.Module):
    """A token "model" that emits ``script`` after a prompt of ``prompt_len`` tokens."""

    def __init__(self, script: list[int], vocab_size: int, prompt_len: int = 1) -> None:
        super().__init__()
        self.script, self.prompt_len = script, prompt_len
        self.config = SimpleNamespace(vocab_size=vocab_size)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # generate() asks for a device

    def _logits(self, seen: int) -> torch.Tensor:
        logits = torch.full((1, self.config.vocab_size), -50.0)
        logits[0, self.script[min(seen - self.prompt_len, len(self.script) - 1)]] = 50.0
        return logits

    def step(self, ids, cache):
        seen = (cache or 0) + ids.shape[1]
        return self._logits(seen), seen

    def forward(self, ids):
        return (self._logits(ids.shape[1]).unsqueeze(1),)


def _scripted(script: list[int]):
    tok = build_tokenizer()
    spec = GeneratorSpec("transformer", {}, tokenizer_to_dict(tok), None, "tokens")
    return (_Scripted(script, len(tok)), spec), tok


def test_bars_are_counted_from_the_first_note_when_the_piece_would_be_empty():
    tok = build_tokenizer()
    melody = encode(_melody(8), tok)  # two 4/4 bars of 4 notes
    bar, eos = tok["Bar_None"], tok["EOS_None"]
    model, _ = _scripted([bar, bar, bar, *melody, eos])  # three empty bars first
    for temperature in (0, 1.0):
        (piece,) = generate_pieces(model, n=1, bars=1, temperature=temperature)
        notes = piece.tracks[0].notes
        assert [n.pitch for n in notes] == [60, 61, 62, 63] and notes[0].time == 0
    # Bar 5 starts after a note: cut there as always, the empty bars kept (unchanged).
    (piece,) = generate_pieces(model, n=1, bars=4)
    notes = piece.tracks[0].notes
    assert [n.pitch for n in notes] == [60, 61, 62, 63]
    assert notes[0].time == 3 * 4 * piece.ticks_per_quarter
    plain, _ = _scripted([*melody, eos])
    (piece,) = generate_pieces(plain, n=1, bars=1)
    assert [n.pitch for n in piece.tracks[0].notes] == [60, 61, 62, 63]


def test_an_empty_piece_is_an_error_that_says_why():
    tok = build_tokenizer()
    model, _ = _scripted([tok["EOS_None"]])
    with pytest.raises(EmptyPieceError, match=r"piece 1 of 2 \(seed 4\).*try a temperature > 0"):
        generate_pieces(model, n=2, seed=4, temperature=0)
    with pytest.raises(EmptyPieceError, match="try another seed"):
        generate_pieces(model, n=1)
    bar = tok["Bar_None"]
    endless, _ = _scripted([bar])
    with pytest.raises(EmptyPieceError, match=r"budget of 5 tokens ran out.*max_tokens"):
        generate_pieces(endless, max_tokens=5)


# -- VAEs and piano-roll models -----------------------------------------------------------
def _tiny_vae(tok, *, zero: bool = False):
    torch.manual_seed(0)
    net = build_generator(
        "vae", vocab_size=len(tok), seq_len=16, latent=4, enc_hidden=8, dec_hidden=8, n_embd=4
    )
    if zero:  # every logit 0: greedy decoding picks PAD forever, a piece without notes
        for p in net.parameters():
            p.data.zero_()
    return net, GeneratorSpec("vae", {}, tokenizer_to_dict(tok), None, "vae")


def test_vae_refuses_prime_and_conditions_and_empty_pieces():
    tok = build_tokenizer()
    vae = _tiny_vae(tok, zero=True)
    with pytest.raises(ParameterError, match="need a token language model"):
        generate_pieces(vae, conditions={"tune_type": "jig"})
    with pytest.raises(ParameterError, match="need a token language model"):
        generate_pieces(vae, prime=_melody())
    with pytest.raises(EmptyPieceError, match="the VAE decoded a window without notes"):
        generate_pieces(vae, temperature=0)


def test_interpolate_pieces_walks_steps_plus_two():
    tok = build_tokenizer()
    walk = interpolate_pieces(_tiny_vae(tok), _melody(4), _melody(8), steps=2, seed=1)
    assert len(walk) == 4
    with pytest.raises(ParameterError, match="steps=-1"):
        interpolate_pieces(_tiny_vae(tok), _melody(), _melody(), steps=-1)
    lm, _ = _scripted([tok["EOS_None"]])
    with pytest.raises(ParameterError, match="'tokens' generator; this needs a 'vae' model"):
        interpolate_pieces(lm, _melody(), _melody())


def test_pianoroll_pieces_and_their_refusals():
    from torchmusic.models.symbolic import PianoRollConfig, PianoRollModel

    torch.manual_seed(0)
    net = PianoRollModel(PianoRollConfig(frame_hidden=8, note_hidden=8))
    roll = (net, GeneratorSpec("pianoroll", {}, None, None, "pianoroll"))
    (piece,) = generate_pieces(roll, n=1, bars=1, seed=0)
    assert 0 < piece.note_num() and piece.end() <= 4 * piece.ticks_per_quarter
    with pytest.raises(ParameterError, match="temperature=0: piano-roll models have no greedy"):
        generate_pieces(roll, temperature=0)
    with pytest.raises(ParameterError, match="not conditioned"):
        generate_pieces(roll, conditions={"tune_type": "jig"})
    with torch.no_grad():
        net.out.bias.fill_(-40.0)  # every key off
    with pytest.raises(EmptyPieceError, match="all 4 sampled frames are silent"):
        generate_pieces(roll, n=1, bars=1)
