"""Training of denoisers: settings (torch-free), data, LightningModule and the job.

Names load lazily from the modules below, so reading the settings never imports
Lightning.
"""

from torchmusic.training._lazy import lazy_getattr

__getattr__ = lazy_getattr(__name__, ("settings", "data", "module", "job"))
