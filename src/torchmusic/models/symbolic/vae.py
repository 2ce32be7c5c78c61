"""MusicVAE-style variational autoencoder over token sequences (Roberts et al. 2018).

Encoder: a bidirectional LSTM whose final states give the posterior ``q(z|x) =
N(mu, diag(exp(logvar)))``. Decoder: an LSTM that predicts each token from the
previous one and the latent code, either directly (flat) or through a *conductor*
(hierarchical): an LSTM that turns ``z`` into one embedding per segment (e.g. per
bar), each of which initialises the token decoder for that segment and is fed to it
at every step, so the decoder cannot ignore ``z`` over long sequences.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.symbolic.registry import register_generator
from torchmusic.models.symbolic.sampling import sample_next


@dataclasses.dataclass
class MusicVAEConfig:
    """Settings of :class:`MusicVAE`.

    Attributes
    ----------
    vocab_size : int
        Token ids ``0 .. vocab_size-1``.
    seq_len : int
        Length of the sequences encoded and decoded (training windows have this length).
    latent : int
        Size of ``z``.
    enc_hidden : int
        Encoder LSTM units per direction.
    dec_hidden : int
        Decoder LSTM units.
    hierarchical : bool
        Decode through a conductor over ``n_segments`` equal segments.
    n_segments : int
        Segments (``seq_len`` must be divisible by it) when hierarchical.
    conductor_hidden : int
        Conductor LSTM units.
    n_embd : int
        Token embedding size.
    enc_layers, dec_layers : int
        Stacked LSTM layers of encoder and decoder.
    dropout : float
        Dropout between stacked LSTM layers (training only).
    """

    vocab_size: int
    seq_len: int
    latent: int = 128
    enc_hidden: int = 512
    dec_hidden: int = 512
    hierarchical: bool = False
    n_segments: int = 4
    conductor_hidden: int = 256
    n_embd: int = 128
    enc_layers: int = 1
    dec_layers: int = 2
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "seq_len",
            "latent",
            "enc_hidden",
            "dec_hidden",
            "n_segments",
            "conductor_hidden",
            "n_embd",
            "enc_layers",
            "dec_layers",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if not isinstance(self.hierarchical, bool):
            raise ParameterError(f"hierarchical={self.hierarchical!r} must be true or false")
        if self.hierarchical and self.seq_len % self.n_segments:
            raise ParameterError(
                f"seq_len={self.seq_len} must be divisible by n_segments={self.n_segments} "
                "for a hierarchical decoder"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ParameterError(f"dropout={self.dropout!r} must be in [0, 1)")

    @property
    def segment_len(self) -> int:
        """Tokens per conductor segment (``seq_len`` when flat)."""
        return self.seq_len // self.n_segments if self.hierarchical else self.seq_len


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical linear interpolation between latent codes ``a`` and ``b`` (``(..., D)``).

    Gaussian latents concentrate near a sphere, so walking along it keeps every
    intermediate code typical, unlike a straight line through the low-norm middle.
    ``t=0`` gives ``a`` and ``t=1`` gives ``b`` exactly; nearly parallel codes fall
    back to linear interpolation.

    Examples
    --------
    >>> a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    >>> slerp(a, b, 0.5)
    tensor([0.7071, 0.7071])
    """
    if not 0.0 <= t <= 1.0:
        raise ParameterError(f"t={t!r} must be in [0, 1]")
    if t == 0.0:
        return a.clone()
    if t == 1.0:
        return b.clone()
    an = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    bn = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    sl = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / so.clamp_min(1e-12)
    return torch.where(so.abs() < 1e-6, lerp, sl)


class MusicVAE(nn.Module):
    """Sequence VAE: ``(B, seq_len)`` token ids <-> ``(B, latent)`` codes.

    Parameters
    ----------
    config : MusicVAEConfig

    Examples
    --------
    >>> cfg = MusicVAEConfig(vocab_size=50, seq_len=16, latent=8, enc_hidden=32,
    ...                      dec_hidden=32, hierarchical=True, n_segments=4)
    >>> vae = MusicVAE(cfg).eval()
    >>> ids = torch.randint(0, 50, (2, 16))
    >>> mu, logvar = vae.encode(ids)
    >>> mu.shape, vae.decode(mu, target=ids).shape
    (torch.Size([2, 8]), torch.Size([2, 16, 50]))
    >>> vae.sample(mu, temperature=0).shape  # greedy
    torch.Size([2, 16])
    """

    def __init__(self, config: MusicVAEConfig) -> None:
        super().__init__()
        if not isinstance(config, MusicVAEConfig):
            raise ParameterError(f"config must be a MusicVAEConfig, got {type(config).__name__}")
        self.config = cfg = config
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.encoder = nn.LSTM(
            cfg.n_embd,
            cfg.enc_hidden,
            num_layers=cfg.enc_layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.enc_layers > 1 else 0.0,
        )
        self.to_mu = nn.Linear(2 * cfg.enc_hidden, cfg.latent)
        self.to_logvar = nn.Linear(2 * cfg.enc_hidden, cfg.latent)
        # Learned input of the first decoding step (no BOS id is taken from the vocabulary).
        self.start = nn.Parameter(torch.zeros(cfg.n_embd))
        if cfg.hierarchical:
            self.conductor_init = nn.Linear(cfg.latent, 2 * cfg.conductor_hidden)
            self.conductor = nn.LSTM(cfg.latent, cfg.conductor_hidden, batch_first=True)
            cond_dim = cfg.conductor_hidden
        else:
            cond_dim = cfg.latent
        # Code (z, or the segment's conductor output) -> initial (h, c) of every decoder layer.
        self.dec_init = nn.Linear(cond_dim, 2 * cfg.dec_layers * cfg.dec_hidden)
        self.decoder = nn.LSTM(
            cfg.n_embd + cond_dim,
            cfg.dec_hidden,
            num_layers=cfg.dec_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.dec_layers > 1 else 0.0,
        )
        self.head = nn.Linear(cfg.dec_hidden, cfg.vocab_size)

    # -- encoder ---------------------------------------------------------------------

    def _check_ids(self, ids: torch.Tensor, name: str = "ids") -> None:
        cfg = self.config
        if ids.ndim != 2 or ids.shape[1] != cfg.seq_len:
            raise ParameterError(
                f"{name} must have shape (batch, seq_len={cfg.seq_len}), got {tuple(ids.shape)}"
            )
        if ids.dtype.is_floating_point:
            raise ParameterError(f"{name} must be integer token ids, got dtype {ids.dtype}")

    def encode(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters of ``ids`` ``(B, seq_len)``: ``mu, logvar``, each ``(B, latent)``."""
        self._check_ids(ids)
        _, (h, _) = self.encoder(self.tok_emb(ids))
        # Last layer's final forward and backward states.
        feats = torch.cat((h[-2], h[-1]), dim=-1)
        return self.to_mu(feats), self.to_logvar(feats)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``z = mu + sigma * eps`` with ``eps ~ N(0, I)`` (torch's global RNG)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def prior(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """``n`` codes drawn from the prior ``N(0, I)``, ``(n, latent)``, seeded on the CPU."""
        gen = torch.Generator()
        gen.manual_seed(int(seed) if seed is not None else int(torch.seed()))
        z = torch.randn(n, self.config.latent, generator=gen)
        p = self.to_mu.weight
        return z.to(p.device, p.dtype)

    # -- decoder ---------------------------------------------------------------------

    def _codes(self, z: torch.Tensor) -> torch.Tensor:
        """Per-segment codes ``(B, S, cond_dim)`` (S = 1 when flat)."""
        cfg = self.config
        if not cfg.hierarchical:
            return z.unsqueeze(1)
        h0, c0 = torch.tanh(self.conductor_init(z)).chunk(2, dim=-1)
        inp = z.unsqueeze(1).expand(-1, cfg.n_segments, -1)
        out, _ = self.conductor(inp, (h0.unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous()))
        return out

    def _dec_state(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        hc = torch.tanh(self.dec_init(code)).view(-1, 2, cfg.dec_layers, cfg.dec_hidden)
        return hc[:, 0].transpose(0, 1).contiguous(), hc[:, 1].transpose(0, 1).contiguous()

    def _check_z(self, z: torch.Tensor) -> None:
        if z.ndim != 2 or z.shape[1] != self.config.latent:
            raise ParameterError(
                f"z must have shape (batch, latent={self.config.latent}), got {tuple(z.shape)}"
            )

    def decode(
        self,
        z: torch.Tensor,
        *,
        target: torch.Tensor | None = None,
        max_len: int | None = None,
    ) -> torch.Tensor:
        """Logits of the tokens of the sequences coded by ``z``.

        Parameters
        ----------
        z : torch.Tensor, shape (B, latent)
        target : torch.Tensor, shape (B, seq_len), optional
            Teacher forcing: step ``t`` is fed ``target[:, t-1]`` (training). When None,
            decoding is greedy: each step is fed the argmax of the previous one.
        max_len : int, optional
            Greedy decoding length (default and maximum ``seq_len``).

        Returns
        -------
        torch.Tensor, shape (B, seq_len or max_len, vocab_size)
        """
        self._check_z(z)
        if target is None:
            _, logits = self._autoregress(z, max_len, temperature=0.0)
            return logits
        self._check_ids(target, "target")
        cfg = self.config
        b, seg = z.shape[0], cfg.segment_len
        prev = torch.cat(
            (self.start.expand(b, 1, -1), self.tok_emb(target[:, :-1])), dim=1
        )  # (B, seq_len, n_embd): the previous token of every step
        codes = self._codes(z)
        outs = []
        for s in range(codes.shape[1]):
            code = codes[:, s]
            x = prev[:, s * seg : (s + 1) * seg]
            x = torch.cat((x, code.unsqueeze(1).expand(-1, x.shape[1], -1)), dim=-1)
            y, _ = self.decoder(x, self._dec_state(code))
            outs.append(y)
        return self.head(torch.cat(outs, dim=1))

    def _autoregress(
        self,
        z: torch.Tensor,
        max_len: int | None,
        *,
        temperature: float,
        top_k: int = 0,
        top_p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        if max_len is None:
            max_len = cfg.seq_len
        if (
            isinstance(max_len, bool)
            or not isinstance(max_len, int)
            or not 1 <= max_len <= cfg.seq_len
        ):
            raise ParameterError(f"max_len={max_len!r} must be an integer in [1, {cfg.seq_len}]")
        b, seg = z.shape[0], cfg.segment_len
        codes = self._codes(z)
        x = self.start.expand(b, -1)
        ids, logits = [], []
        state = None
        for t in range(max_len):
            code = codes[:, t // seg]
            if t % seg == 0:  # a new segment starts from its conductor code
                state = self._dec_state(code)
            y, state = self.decoder(torch.cat((x, code), dim=-1).unsqueeze(1), state)
            step = self.head(y[:, 0])
            tok = sample_next(
                step, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )
            ids.append(tok)
            logits.append(step)
            x = self.tok_emb(tok)
        return torch.stack(ids, dim=1), torch.stack(logits, dim=1)

    @torch.no_grad()
    def sample(
        self,
        z: torch.Tensor,
        *,
        max_len: int | None = None,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> torch.Tensor:
        """Decode ``z`` ``(B, latent)`` to token ids ``(B, max_len)`` by sampling.

        ``temperature=0`` is greedy (deterministic); otherwise sampling is driven by a
        CPU ``torch.Generator`` seeded with ``seed``, so the same seed gives the same ids.
        """
        self._check_z(z)
        gen = torch.Generator()
        gen.manual_seed(int(seed) if seed is not None else int(torch.seed()))
        ids, _ = self._autoregress(
            z, max_len, temperature=temperature, top_k=top_k, top_p=top_p, generator=gen
        )
        return ids

    # -- training and latent walks ---------------------------------------------------

    def loss(
        self,
        ids: torch.Tensor,
        *,
        beta: float = 1.0,
        free_bits: float = 0.0,
        sample_z: bool = True,
    ) -> dict[str, torch.Tensor]:
        """Negative ELBO of ``ids`` with a KL weight and free bits (Roberts et al. 2018).

        Parameters
        ----------
        ids : torch.Tensor, shape (B, seq_len)
        beta : float
            Weight of the KL term (anneal it from 0 up during training).
        free_bits : float
            KL budget per sequence, in bits, that is not penalised: the cost is
            ``max(KL - free_bits * ln 2, 0)``, so the encoder may use that much
            information for free (counters posterior collapse).
        sample_z : bool
            Decode a sample ``z ~ q(z|x)`` (training) or ``mu`` (deterministic).

        Returns
        -------
        dict
            ``recon`` (nats per sequence), ``kl`` (nats per sequence), ``loss``
            (``recon + beta * kl_cost``), ``kl_cost`` and ``recon_per_token``,
            all averaged over the batch.
        """
        if beta < 0 or free_bits < 0:
            raise ParameterError(f"beta={beta!r} and free_bits={free_bits!r} must be >= 0")
        mu, logvar = self.encode(ids)
        z = self.reparameterize(mu, logvar) if sample_z else mu
        logits = self.decode(z, target=ids)
        recon = F.cross_entropy(logits.transpose(1, 2), ids, reduction="none").sum(dim=1)  # (B,)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)  # (B,)
        kl_cost = torch.clamp(kl - free_bits * math.log(2.0), min=0.0)
        loss = (recon + beta * kl_cost).mean()
        return {
            "loss": loss,
            "recon": recon.mean(),
            "kl": kl.mean(),
            "kl_cost": kl_cost.mean(),
            "recon_per_token": recon.mean() / ids.shape[1],
        }

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Teacher-forced reconstruction logits of ``ids`` from their posterior mean."""
        mu, _ = self.encode(ids)
        return self.decode(mu, target=ids)

    @torch.no_grad()
    def interpolate(
        self,
        ids_a: torch.Tensor,
        ids_b: torch.Tensor,
        steps: int,
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[list[int]]:
        """Decode ``steps`` codes on the great circle between the codes of two sequences.

        Parameters
        ----------
        ids_a, ids_b : torch.Tensor, shape (seq_len,) or (1, seq_len)
            The two end sequences; their posterior means are the end codes.
        steps : int
            Sequences returned (>= 2), the first decoded from ``a``'s code and the
            last from ``b``'s.
        temperature, top_p, seed
            Decoding settings (default greedy); every step uses the same ``seed``.

        Returns
        -------
        list of list of int
            ``steps`` token sequences of ``seq_len`` ids.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ParameterError(f"steps={steps!r} must be an integer >= 2")
        ends = []
        for name, ids in (("ids_a", ids_a), ("ids_b", ids_b)):
            ids = torch.as_tensor(ids)
            ids = ids.unsqueeze(0) if ids.ndim == 1 else ids
            if ids.shape[0] != 1:
                raise ParameterError(f"{name} must be one sequence, got shape {tuple(ids.shape)}")
            ends.append(self.encode(ids.to(self.tok_emb.weight.device))[0])
        out = []
        for i in range(steps):
            z = slerp(ends[0], ends[1], i / (steps - 1))
            ids = self.sample(z, temperature=temperature, top_p=top_p, seed=seed)
            out.append([int(t) for t in ids[0].tolist()])
        return out


register_generator("vae", MusicVAEConfig, MusicVAE, kind="vae")
