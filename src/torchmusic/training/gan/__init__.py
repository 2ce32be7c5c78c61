"""Training of audio GANs (WaveGAN, SpecGAN): settings (torch-free), data, module, job.

Names load lazily from the modules below, so reading the settings never imports
Lightning.
"""

from torchmusic.training._lazy import lazy_getattr

__getattr__ = lazy_getattr(__name__, ("settings", "data", "module", "examples", "job"))
