"""Polyphonic piano-roll model with an exact likelihood (JSB Chorales and the like).

A frame ``x_t`` is the set of sounding keys (88 binary values, MIDI 21..108) at one
time step. The model factorises a piece exactly as

.. math:: \\log p(x_{1..T}) = \\sum_t \\sum_k \\log p(x_{t,k} \\mid x_{t,<k}, x_{<t})

with recurrent networks along time and along the keys (after RNN-NADE,
Boulanger-Lewandowski et al. 2012, and the "biaxial" LSTM of Johnson 2017,
"Generating polyphonic music using tied parallel networks"):

- **time**: a frame-level LSTM reads the previous frames ``x_{<t}`` (whole 88-key
  vectors) and hands every key a projection of its state. Optionally (``time_hidden >
  0``) a second, weight-tied LSTM runs over frames for every key separately, as in
  the biaxial model (nearly transposition invariant, but 88 sequences per piece:
  about twice the CPU time for JSB);
- **per-key inputs** from the previous frame ``x_{t-1}``: key ``k``'s neighbourhood
  (keys ``k - w .. k + w``), the pitch-class counts rotated to ``k``'s pitch class,
  and a learned embedding of ``k`` (register);
- **keys**: an LSTM runs low -> high over the 88 keys of the current frame, fed the
  above, the value of the key just below and how many keys below are already on.
  Its output plus a per-key offset is the logit of ``p(x_{t,k} = 1 | ...)``.

Every factor is a Bernoulli over one key given only keys below it in the same
frame and earlier frames, so :meth:`PianoRollModel.log_prob` is the exact
log-probability of each frame given the past (no variational bound, no sampling).
The first frame is conditioned on an empty past (an all-zero previous frame and
zero recurrent state).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.classify._common import check_dropout, check_positive_int
from torchmusic.models.symbolic.registry import register_generator

#: MIDI pitch of the lowest key of an 88-key piano roll (A0).
LOWEST_PITCH = 21
N_KEYS = 88


@dataclasses.dataclass
class PianoRollConfig:
    """Settings of :class:`PianoRollModel`.

    Parameters
    ----------
    n_keys : int
        Keys per frame (88: MIDI ``lowest_pitch .. lowest_pitch + 87``).
    lowest_pitch : int
        MIDI pitch of key 0 (sets each key's pitch class).
    window : int
        The time axis sees keys ``k - window .. k + window`` of the previous frame.
    pitch_embed : int
        Size of the learned per-key (register) embedding (a per-key input).
    beat : int
        Period of a one-hot "position in bar" input (frame index modulo ``beat``);
        0 turns it off (JSB pieces start on varying beats, so it is off by default).
    time_hidden, time_layers : int
        Tied (per-key) time-axis LSTM size and depth; ``time_hidden=0`` drops it.
    frame_hidden, frame_layers : int
        Untied frame-level LSTM over whole previous frames, whose state reaches
        every key through a ``frame_proj``-sized projection; ``frame_hidden=0``
        drops it. At least one of the two time axes must be on.
    frame_proj : int
        Width of the frame-LSTM context given to each key.
    note_hidden, note_layers : int
        Key-axis LSTM size and depth.
    dropout : float
        Dropout on the time axes' outputs, between stacked layers and before the output.
    """

    n_keys: int = N_KEYS
    lowest_pitch: int = LOWEST_PITCH
    window: int = 12
    pitch_embed: int = 16
    beat: int = 0
    time_hidden: int = 0
    time_layers: int = 1
    frame_hidden: int = 256
    frame_layers: int = 1
    frame_proj: int = 64
    note_hidden: int = 64
    note_layers: int = 2
    dropout: float = 0.3

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("n_keys", "time_layers", "frame_layers", "note_hidden", "note_layers"):
            check_positive_int(owner, name, getattr(self, name))
        for name in (
            "window",
            "pitch_embed",
            "beat",
            "lowest_pitch",
            "time_hidden",
            "frame_hidden",
            "frame_proj",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ParameterError(f"{owner}: {name}={value!r} must be an int >= 0")
        if self.lowest_pitch + self.n_keys > 128:
            raise ParameterError(
                f"{owner}: keys {self.lowest_pitch}..{self.lowest_pitch + self.n_keys - 1} "
                "leave the MIDI range 0..127"
            )
        if not (self.time_hidden or self.frame_hidden):
            raise ParameterError(f"{owner}: time_hidden or frame_hidden must be > 0")
        if self.frame_hidden and not self.frame_proj:
            raise ParameterError(f"{owner}: frame_proj must be > 0 with frame_hidden > 0")
        self.dropout = check_dropout(owner, self.dropout)


class PianoRollModel(nn.Module):
    """LSTMs along frames and along keys with an exact autoregressive likelihood.

    Parameters
    ----------
    config : PianoRollConfig

    Notes
    -----
    Parameters, default settings: 0.45 M (1.8 MB as float32). The key axis costs
    ``frames x 88`` LSTM steps; a JSB Chorales training epoch (13.8 k frames) takes
    under a minute on one CPU core (twice that with the tied time axis).

    Examples
    --------
    >>> model = PianoRollModel(PianoRollConfig(frame_hidden=16, note_hidden=16))
    >>> roll = torch.zeros(2, 5, 88)
    >>> model.log_prob(roll).shape
    torch.Size([2, 5])
    >>> model.sample(4, seed=0).shape
    torch.Size([4, 88])
    """

    def __init__(self, config: PianoRollConfig) -> None:
        super().__init__()
        self.config = config
        k = config.n_keys
        # Pitch class of every key, and for key k the 12 classes in the order
        # "own class, +1 semitone, ...": the rotated-histogram gather index.
        pcs = (torch.arange(k) + config.lowest_pitch) % 12
        self.register_buffer("pitch_class", pcs, persistent=False)
        self.register_buffer(
            "pc_rotation", (pcs[:, None] + torch.arange(12)[None, :]) % 12, persistent=False
        )
        self.key_embed = nn.Embedding(k, config.pitch_embed) if config.pitch_embed else None
        n_in = (2 * config.window + 1) + 12 + config.pitch_embed + config.beat
        drop = config.dropout
        self.time_rnn = None
        if config.time_hidden:
            self.time_rnn = nn.LSTM(
                n_in,
                config.time_hidden,
                num_layers=config.time_layers,
                batch_first=True,
                dropout=drop if config.time_layers > 1 else 0.0,
            )
        self.frame_rnn = self.frame_proj = None
        if config.frame_hidden:
            self.frame_rnn = nn.LSTM(
                k + config.beat,
                config.frame_hidden,
                num_layers=config.frame_layers,
                batch_first=True,
                dropout=drop if config.frame_layers > 1 else 0.0,
            )
            self.frame_proj = nn.Linear(config.frame_hidden, config.frame_proj)
        # The key axis sees each key's own inputs, both time axes, the key below
        # and the running count of keys on below.
        n_note = n_in + config.time_hidden + (config.frame_proj if config.frame_hidden else 0) + 2
        self.note_rnn = nn.LSTM(
            n_note,
            config.note_hidden,
            num_layers=config.note_layers,
            batch_first=True,
            dropout=drop if config.note_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(drop)
        self.out = nn.Linear(config.note_hidden, 1)
        # Per-key offset of the logit: a direct absolute-register prior (keys outside
        # the chorales' range are always off); init_key_bias starts it at the data's.
        self.key_bias = nn.Parameter(torch.zeros(k))

    @torch.no_grad()
    def init_key_bias(self, pieces: Sequence[np.ndarray | torch.Tensor]) -> None:
        """Start each key's logit offset at the log-odds of that key being on in ``pieces``.

        With a zero start, Adam needs thousands of steps just to learn that most
        keys are silent (it moves a bias by about ``lr`` per step); starting from the
        data's marginals lets training spend its budget on the context instead.
        Counts are smoothed (add 0.5) so unused keys get a finite bias.

        Parameters
        ----------
        pieces : sequence of array-like, each shape (T_i, K)
            Training piano rolls.
        """
        on = torch.zeros(self.config.n_keys, dtype=torch.float64)
        frames = 0
        for piece in pieces:
            roll = torch.as_tensor(np.asarray(piece), dtype=torch.float64)
            on += roll.sum(0)
            frames += roll.shape[0]
        p = (on + 0.5) / (frames + 1.0)
        self.key_bias.copy_(torch.log(p / (1 - p)).to(self.key_bias))

    # -- inputs ---------------------------------------------------------------------------
    def _beat(self, t0: int, t: int, like: torch.Tensor) -> torch.Tensor:
        """One-hot position ``(T, beat)`` of frames ``t0 .. t0 + t - 1`` in the bar."""
        pos = torch.arange(t0, t0 + t, device=like.device) % self.config.beat
        return F.one_hot(pos, self.config.beat).to(like.dtype)

    def _key_features(self, prev: torch.Tensor, t0: int = 0) -> torch.Tensor:
        """Per-key inputs ``(B, T, K, F)`` from previous frames ``prev`` ``(B, T, K)``."""
        cfg = self.config
        b, t, k = prev.shape
        w = cfg.window
        feats = [F.pad(prev, (w, w)).unfold(-1, 2 * w + 1, 1)]  # (B, T, K, 2w+1)
        hist = prev.new_zeros(b, t, 12).index_add_(2, self.pitch_class, prev)
        feats.append(hist[:, :, self.pc_rotation])  # (B, T, K, 12)
        if self.key_embed is not None:
            feats.append(self.key_embed.weight.expand(b, t, k, -1))
        if cfg.beat:
            feats.append(self._beat(t0, t, prev)[None, :, None, :].expand(b, t, k, -1))
        return torch.cat(feats, dim=-1)

    def _context(
        self, prev: torch.Tensor, *, t0: int = 0, state: tuple | None = None
    ) -> tuple[torch.Tensor, tuple]:
        """Key-axis inputs ``(B, T, K, D)`` given previous frames, and the time axes' states.

        Both time axes are causal: frame ``t`` sees ``prev[:, :t + 1]`` = frames
        ``< t``, so padding after a piece's end cannot leak into it.
        """
        b, t, k = prev.shape
        feats = self._key_features(prev, t0)
        parts = [feats]
        time_state, frame_state = state if state is not None else (None, None)
        if self.time_rnn is not None:
            h, time_state = self.time_rnn(
                feats.permute(0, 2, 1, 3).reshape(b * k, t, -1), time_state
            )
            parts.append(self.drop(h).reshape(b, k, t, -1).permute(0, 2, 1, 3))
        if self.frame_rnn is not None:
            inp = prev
            if self.config.beat:
                inp = torch.cat([prev, self._beat(t0, t, prev).expand(b, t, -1)], dim=-1)
            c, frame_state = self.frame_rnn(inp, frame_state)
            c = self.frame_proj(self.drop(c))  # (B, T, P)
            parts.append(self.drop(c)[:, :, None, :].expand(b, t, k, -1))
        return torch.cat(parts, dim=-1), (time_state, frame_state)

    @staticmethod
    def _note_inputs(frames: torch.Tensor) -> torch.Tensor:
        """``(N, K, 2)``: the key just below each key, and how many keys below are on."""
        below = F.pad(frames, (1, 0))[:, :-1]
        count = torch.cumsum(below, dim=-1)
        return torch.stack([below, count / 4.0], dim=-1)

    # -- likelihood -----------------------------------------------------------------------
    def _check_roll(self, roll: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if not isinstance(roll, torch.Tensor) or roll.ndim != 3:
            raise ParameterError(
                f"roll must be a (batch, frames, {self.config.n_keys}) tensor, got "
                f"{getattr(roll, 'shape', type(roll).__name__)}"
            )
        if roll.shape[-1] != self.config.n_keys or roll.shape[1] < 1:
            raise ParameterError(
                f"roll has shape {tuple(roll.shape)}; expected (batch, frames >= 1, "
                f"{self.config.n_keys})"
            )
        if not bool(((roll == 0) | (roll == 1)).all()):
            raise ParameterError("roll must hold 0/1 (or bool) values: one per key and frame")
        mask = torch.ones(roll.shape[:2], dtype=torch.bool, device=roll.device)
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=roll.device)
            if lengths.shape != (roll.shape[0],) or bool(
                ((lengths < 1) | (lengths > roll.shape[1])).any()
            ):
                raise ParameterError(
                    f"lengths must be {roll.shape[0]} ints in 1..{roll.shape[1]}, got "
                    f"{lengths.tolist()}"
                )
            mask = torch.arange(roll.shape[1], device=roll.device)[None, :] < lengths[:, None]
        return mask

    def logits(self, roll: torch.Tensor, *, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Bernoulli logits ``(B, T, K)`` of every key given the keys below and the past.

        Parameters
        ----------
        roll : torch.Tensor, shape (B, T, K)
            Piano rolls with values 0/1 (any float or bool dtype).
        lengths : torch.Tensor or None, shape (B,)
            Valid frames per piece (the rest is padding; its logits are 0).

        Returns
        -------
        torch.Tensor, shape (B, T, K)
        """
        mask = self._check_roll(roll, lengths)
        return self._logits(roll.to(self.out.weight.dtype), mask)

    def _logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, k = x.shape
        prev = F.pad(x, (0, 0, 1, 0))[:, :-1]  # frame 0 sees an empty past
        ctx, _ = self._context(prev)  # (B, T, K, D)
        # The key axis runs on valid frames only (padding would cost as much as data).
        frames = x[mask]  # (N, K)
        note_in = torch.cat([ctx[mask], self._note_inputs(frames)], dim=-1)
        g, _ = self.note_rnn(note_in)  # (N, K, Hn)
        valid = self.out(self.drop(g)).squeeze(-1) + self.key_bias
        out = x.new_zeros(b, t, k)
        out[mask] = valid
        return out

    def log_prob(self, roll: torch.Tensor, *, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Exact ``log p(frame_t | frames_<t)`` in nats, summed over the keys.

        Parameters
        ----------
        roll : torch.Tensor, shape (B, T, K)
            Piano rolls with values 0/1. Frame 0 is conditioned on an empty past.
        lengths : torch.Tensor or None, shape (B,)
            Valid frames per piece; padded frames get log-probability 0.

        Returns
        -------
        torch.Tensor, shape (B, T)
            Per-frame log-probabilities (``<= 0``); ``exp`` of it sums to 1 over
            all ``2 ** K`` possible frames for a fixed past.

        Examples
        --------
        >>> model = PianoRollModel(PianoRollConfig(frame_hidden=8, note_hidden=8))
        >>> lp = model.log_prob(torch.zeros(1, 3, 88))
        >>> bool((lp <= 0).all())
        True
        """
        mask = self._check_roll(roll, lengths)
        target = roll.to(self.out.weight.dtype)
        logits = self._logits(target, mask)
        nll = F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
        return -nll * mask

    # -- sampling -------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n_frames: int,
        *,
        prime: np.ndarray | torch.Tensor | Sequence[Sequence[bool]] | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        return_log_prob: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, float]:
        """Sample ``n_frames`` new frames, key by key (low to high), frame by frame.

        Parameters
        ----------
        n_frames : int
            Frames to generate (after the prime).
        prime : array-like or None, shape (P, K)
            Frames to continue; they are read, not returned. None: start from an
            empty past, like the first frame of a piece.
        temperature : float
            Divides every key's logit (``< 1``: more conservative).
        seed : int or None
            Seeds a private generator, so equal seeds give equal pieces.
        return_log_prob : bool
            Also return the log-probability of the sampled frames given the prime
            under the (temperature-scaled) sampling distribution; at temperature 1
            it equals the sum of ``log_prob`` over the new frames.

        Returns
        -------
        torch.Tensor, shape (n_frames, K), bool
            The generated frames (on the CPU); with ``return_log_prob``, a tuple
            ``(frames, log_prob)``.

        Examples
        --------
        >>> model = PianoRollModel(PianoRollConfig(frame_hidden=8, note_hidden=8))
        >>> bool((model.sample(3, seed=1) == model.sample(3, seed=1)).all())
        True
        """
        check_positive_int("sample", "n_frames", n_frames)
        if isinstance(temperature, bool) or not (
            isinstance(temperature, int | float) and temperature > 0
        ):
            raise ParameterError(f"temperature={temperature!r} must be a number > 0")
        cfg = self.config
        device = self.out.weight.device
        dtype = self.out.weight.dtype
        primed = self._check_prime(prime).to(device=device, dtype=dtype)
        gen = torch.Generator(device=device)
        if seed is None:
            gen.seed()  # fresh entropy, leaving torch's global generator alone
        else:
            gen.manual_seed(int(seed))
        was_training = self.training
        self.eval()
        try:
            state = None
            prev = torch.zeros(1, 1, cfg.n_keys, device=device, dtype=dtype)
            frames = []
            total = 0.0
            for t in range(primed.shape[0] + n_frames):
                ctx, state = self._context(prev, t0=t, state=state)  # (1, 1, K, D)
                if t < primed.shape[0]:
                    prev = primed[t].reshape(1, 1, -1)
                    continue
                frame, logp = self._sample_frame(ctx[0, 0], temperature, gen)
                total += logp
                frames.append(frame)
                prev = frame.reshape(1, 1, -1)
        finally:
            self.train(was_training)
        out = torch.stack(frames).to("cpu").bool()
        return (out, total) if return_log_prob else out

    def _sample_frame(
        self, h: torch.Tensor, temperature: float, gen: torch.Generator
    ) -> tuple[torch.Tensor, float]:
        """One frame ``(K,)`` from key-axis inputs ``h`` ``(K, D)``, and its log-prob."""
        frame = h.new_zeros(self.config.n_keys)
        below, count, state, logp = 0.0, 0.0, None, 0.0
        for k in range(self.config.n_keys):
            extra = h.new_tensor([below, count / 4.0])
            g, state = self.note_rnn(torch.cat([h[k], extra]).reshape(1, 1, -1), state)
            logit = (self.out(g[0, 0]) + self.key_bias[k]).squeeze() / temperature
            on = bool(torch.rand((), generator=gen, device=h.device) < torch.sigmoid(logit))
            logp += float(F.logsigmoid(logit if on else -logit))
            frame[k] = float(on)
            below = float(on)
            count += below
        return frame, logp

    def _check_prime(self, prime: object) -> torch.Tensor:
        k = self.config.n_keys
        if prime is None:
            return torch.zeros(0, k)
        p = torch.as_tensor(np.asarray(prime, dtype=np.float32))
        if p.ndim != 2 or p.shape[1] != k:
            raise ParameterError(f"prime must have shape (frames, {k}), got {tuple(p.shape)}")
        if not bool(((p == 0) | (p == 1)).all()):
            raise ParameterError("prime must hold 0/1 (or bool) values")
        return p


def to_roll_batch(
    pieces: Sequence[np.ndarray | torch.Tensor], *, n_keys: int = N_KEYS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad piano rolls of different lengths into one batch.

    Parameters
    ----------
    pieces : sequence of array-like, each shape (T_i, n_keys)
        Piano rolls (bool or 0/1).
    n_keys : int
        Expected keys per frame.

    Returns
    -------
    roll : torch.Tensor, shape (B, max T_i, n_keys), float32
    lengths : torch.Tensor, shape (B,), int64

    Examples
    --------
    >>> roll, lengths = to_roll_batch([np.zeros((3, 88), bool), np.ones((5, 88), bool)])
    >>> roll.shape, lengths.tolist()
    (torch.Size([2, 5, 88]), [3, 5])
    """
    if len(pieces) == 0:
        raise ParameterError("pieces is empty: expected at least one (frames, keys) roll")
    tensors = []
    for i, piece in enumerate(pieces):
        p = torch.as_tensor(np.asarray(piece), dtype=torch.float32)
        if p.ndim != 2 or p.shape[1] != n_keys or p.shape[0] < 1:
            raise ParameterError(
                f"piece {i} has shape {tuple(p.shape)}; expected (frames >= 1, {n_keys})"
            )
        tensors.append(p)
    lengths = torch.tensor([p.shape[0] for p in tensors])
    return nn.utils.rnn.pad_sequence(tensors, batch_first=True), lengths


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


register_generator("pianoroll", PianoRollConfig, PianoRollModel, kind="pianoroll")
