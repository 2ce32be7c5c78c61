"""The General MIDI melodic instruments the demo corpus is rendered with.

General MIDI groups its 128 programs into 16 families of 8. We keep the nine
families whose instruments clearly carry a fast monophonic fiddle tune and
whose members sound alike enough for the family to be a meaningful label:

=====================  ========  ===============================================
family                 programs  left out (and why)
=====================  ========  ===============================================
piano                  0-7
chromatic_percussion   8-15
organ                  16-23
guitar                 24-30     31 Guitar Harmonics (a chime effect, not a guitar)
strings                40-42,    43 Contrabass (bass register), 47 Timpani (drum)
                       44-46
brass                  56,57,    58 Tuba (bass register)
                       59-63
reed                   64-66,    67 Baritone Sax (bass register)
                       68-71
pipe                   72-79
synth_lead             80-85,87  86 Lead 7 (fifths): every note sounds as a fifth
=====================  ========  ===============================================

Families left out entirely: bass (32-39, an octave too low for these tunes),
ensemble (48-55: slow-attack string/choir pads smear reels, plus Orchestra Hit),
synth pad and synth effects (88-103, slow attacks and effects), ethnic (104-111:
banjo, sitar, bagpipe, kalimba... too mixed for one label), percussive (112-119)
and sound effects (120-127).

Program numbers are 0-based, as written in a MIDI file (GM documents print them
1-based).

Instruments whose range ends below a fiddle tune's top notes play the tune an
octave (or two) lower, as a cellist would (:data:`TOP_NOTE`,
:func:`octave_shift`). Besides realism this avoids notes the soundfonts leave
silent: TimGM6mb's Whistle has no samples above A5, FluidR3's bassoon, alto sax
and English horn none from E6 up.
"""

from __future__ import annotations

# Hand-written because no installed library ships the General MIDI name table
# (music21's instrument classes use their own names and cover only some programs).
GM_PROGRAM_NAMES: dict[int, str] = {
    0: "Acoustic Grand Piano",
    1: "Bright Acoustic Piano",
    2: "Electric Grand Piano",
    3: "Honky-tonk Piano",
    4: "Electric Piano 1",
    5: "Electric Piano 2",
    6: "Harpsichord",
    7: "Clavinet",
    8: "Celesta",
    9: "Glockenspiel",
    10: "Music Box",
    11: "Vibraphone",
    12: "Marimba",
    13: "Xylophone",
    14: "Tubular Bells",
    15: "Dulcimer",
    16: "Drawbar Organ",
    17: "Percussive Organ",
    18: "Rock Organ",
    19: "Church Organ",
    20: "Reed Organ",
    21: "Accordion",
    22: "Harmonica",
    23: "Tango Accordion",
    24: "Acoustic Guitar (nylon)",
    25: "Acoustic Guitar (steel)",
    26: "Electric Guitar (jazz)",
    27: "Electric Guitar (clean)",
    28: "Electric Guitar (muted)",
    29: "Overdriven Guitar",
    30: "Distortion Guitar",
    40: "Violin",
    41: "Viola",
    42: "Cello",
    44: "Tremolo Strings",
    45: "Pizzicato Strings",
    46: "Orchestral Harp",
    56: "Trumpet",
    57: "Trombone",
    59: "Muted Trumpet",
    60: "French Horn",
    61: "Brass Section",
    62: "Synth Brass 1",
    63: "Synth Brass 2",
    64: "Soprano Sax",
    65: "Alto Sax",
    66: "Tenor Sax",
    68: "Oboe",
    69: "English Horn",
    70: "Bassoon",
    71: "Clarinet",
    72: "Piccolo",
    73: "Flute",
    74: "Recorder",
    75: "Pan Flute",
    76: "Blown Bottle",
    77: "Shakuhachi",
    78: "Whistle",
    79: "Ocarina",
    80: "Lead 1 (square)",
    81: "Lead 2 (sawtooth)",
    82: "Lead 3 (calliope)",
    83: "Lead 4 (chiff)",
    84: "Lead 5 (charang)",
    85: "Lead 6 (voice)",
    87: "Lead 8 (bass + lead)",
}

# family -> its programs, in GM order (the order fixes what a seed draws).
INSTRUMENT_FAMILIES: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 2, 3, 4, 5, 6, 7),
    "chromatic_percussion": (8, 9, 10, 11, 12, 13, 14, 15),
    "organ": (16, 17, 18, 19, 20, 21, 22, 23),
    "guitar": (24, 25, 26, 27, 28, 29, 30),
    "strings": (40, 41, 42, 44, 45, 46),
    "brass": (56, 57, 59, 60, 61, 62, 63),
    "reed": (64, 65, 66, 68, 69, 70, 71),
    "pipe": (72, 73, 74, 75, 76, 77, 78, 79),
    "synth_lead": (80, 81, 82, 83, 84, 85, 87),
}


# Highest MIDI note an instrument plays (its usual range; for the Whistle, the
# top of TimGM6mb's samples). Programs not listed play the tune as written.
TOP_NOTE: dict[int, int] = {
    28: 84,  # Electric Guitar (muted): FluidR3 is silent from D6
    42: 81,  # Cello: A5
    57: 77,  # Trombone: F5
    60: 77,  # French Horn: F5
    65: 80,  # Alto Sax: A-flat 5
    66: 75,  # Tenor Sax: E-flat 5
    69: 81,  # English Horn: A5
    70: 75,  # Bassoon: E-flat 5
    78: 81,  # Whistle: TimGM6mb has no samples above A5
}


def octave_shift(highest: int, program: int) -> int:
    """Semitones (0 or a negative multiple of 12) that fit a tune under an instrument's top.

    Parameters
    ----------
    highest : int
        The tune's highest MIDI note.
    program : int
        0-based GM program.

    Returns
    -------
    int

    Examples
    --------
    >>> octave_shift(86, 42)  # a fiddle tune up to D6 on the cello
    -12
    >>> octave_shift(86, 40)  # on the violin
    0
    """
    top = TOP_NOTE.get(program, 127)
    shift = 0
    while highest + shift > top:
        shift -= 12
    return shift


def program_family(program: int) -> str:
    """Family name of a kept General MIDI program.

    Parameters
    ----------
    program : int
        0-based GM program number.

    Returns
    -------
    str
        A key of :data:`INSTRUMENT_FAMILIES`.

    Raises
    ------
    KeyError
        If ``program`` is not one of the kept melodic programs.

    Examples
    --------
    >>> program_family(40)
    'strings'
    """
    for family, programs in INSTRUMENT_FAMILIES.items():
        if program in programs:
            return family
    raise KeyError(f"GM program {program} is not one of the demo corpus's melodic programs")
