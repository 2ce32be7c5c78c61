"""FluidSynth rendering, now :mod:`torchmusic.audio.fluidsynth` (shared with generation).

Kept so that ``from torchmusic.data.demo.render import render_midi`` still works;
patch :mod:`torchmusic.audio.fluidsynth` itself to change its module settings.
"""

from __future__ import annotations

from torchmusic.audio.fluidsynth import (  # noqa: F401 (re-exported: their old home)
    INSTALL_HINT,
    SOUNDFONT_DIR,
    SOUNDFONT_ENV,
    SOUNDFONT_NAMES,
    find_fluidsynth,
    find_soundfont,
    fluidsynth_version,
    render_midi,
)
