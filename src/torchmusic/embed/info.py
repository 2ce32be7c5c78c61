"""What a catalog records about the model that produced its embeddings (no heavy imports)."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from torchmusic.errors import DataError


def fingerprint_of(key: str) -> str:
    """The :attr:`ModelInfo.fingerprint` of an embedder described by ``key`` (its name,
    version and every setting that changes its vectors): 32 hex digits of SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Identity of an embedding model.

    Attributes
    ----------
    name : str
        ``"mfcc"``, ``"autoencoder"``, ``"contrastive"`` or ``"classifier:<architecture>"``.
    version : str
        Version of the algorithm or of the model-file format that produced it.
    dim : int
        Embedding size.
    fingerprint : str
        Hex digest of the exact weights and settings: two embeddings are comparable
        only when their fingerprints are equal.
    source : str
        ``"mfcc"`` or the model file it was loaded from.
    """

    name: str
    version: str
    dim: int
    fingerprint: str
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Inverse of :meth:`to_dict` (:class:`DataError` on a malformed record)."""
        try:
            return cls(
                name=str(data["name"]),
                version=str(data["version"]),
                dim=int(data["dim"]),
                fingerprint=str(data["fingerprint"]),
                source=str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed model record {data!r}: {exc}") from exc

    def describe(self) -> str:
        """One line for messages: ``contrastive v1, dim 128, fingerprint 3f9a0c12``."""
        return f"{self.name} v{self.version}, dim {self.dim}, fingerprint {self.fingerprint[:12]}"
