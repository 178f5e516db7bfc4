"""Phoneme inventory of the formant synthesiser: formant targets, durations, excitation.

Values are textbook averages for an adult male voice (Peterson & Barney vowels, Klatt 1980 consonant
tables), rounded: the synthesiser scales formants and pitch per character preset, so one table serves
every voice. Frequencies in Hz, durations in ms at speaking rate 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

VOWEL, DIPHTHONG, APPROX, NASAL, FRIC, STOP, AFFRIC, ASPIR, PAUSE = range(9)


@dataclass(frozen=True)
class Phoneme:
    """One phoneme's targets. ``f`` = (F1, F2, F3); ``f_end`` for diphthongs (glide target).

    ``voiced``: glottal source on. ``fric`` = (centre Hz, bandwidth Hz, level 0..1) of the frication
    noise (or the stop burst). ``amp``: voicing amplitude relative to a vowel.
    """

    kind: int
    f: tuple[float, float, float]
    dur: float
    voiced: bool = True
    fric: tuple[float, float, float] = (0.0, 1000.0, 0.0)
    amp: float = 1.0
    f_end: tuple[float, float, float] | None = None


_V = VOWEL
PHONEMES: dict[str, Phoneme] = {
    # vowels
    "IY": Phoneme(_V, (270, 2290, 3010), 110),
    "IH": Phoneme(_V, (390, 1990, 2550), 80),
    "EH": Phoneme(_V, (530, 1840, 2480), 90),
    "AE": Phoneme(_V, (660, 1720, 2410), 120),
    "AA": Phoneme(_V, (730, 1090, 2440), 120),
    "AO": Phoneme(_V, (570, 840, 2410), 120),
    "UH": Phoneme(_V, (440, 1020, 2240), 80),
    "UW": Phoneme(_V, (300, 870, 2240), 110),
    "AH": Phoneme(_V, (640, 1190, 2390), 90),
    "AX": Phoneme(_V, (500, 1400, 2450), 55),
    "ER": Phoneme(_V, (490, 1350, 1690), 120),
    # diphthongs
    "EY": Phoneme(DIPHTHONG, (480, 1900, 2500), 150, f_end=(300, 2250, 2950)),
    "AY": Phoneme(DIPHTHONG, (720, 1150, 2450), 170, f_end=(320, 2150, 2900)),
    "OW": Phoneme(DIPHTHONG, (550, 900, 2400), 150, f_end=(330, 800, 2250)),
    "AW": Phoneme(DIPHTHONG, (720, 1200, 2450), 170, f_end=(350, 850, 2250)),
    "OY": Phoneme(DIPHTHONG, (560, 850, 2400), 170, f_end=(330, 2100, 2900)),
    # approximants
    "W": Phoneme(APPROX, (290, 610, 2150), 60, amp=0.7),
    "Y": Phoneme(APPROX, (260, 2070, 3020), 55, amp=0.7),
    "R": Phoneme(APPROX, (310, 1060, 1380), 60, amp=0.75),
    "L": Phoneme(APPROX, (330, 1050, 2880), 60, amp=0.75),
    # nasals (murmur: low F1, weak upper formants)
    "M": Phoneme(NASAL, (250, 1100, 2150), 70, amp=0.45),
    "N": Phoneme(NASAL, (250, 1500, 2500), 65, amp=0.45),
    "NG": Phoneme(NASAL, (250, 2000, 2800), 75, amp=0.45),
    # fricatives: voiced ones keep a weaker glottal source
    "S": Phoneme(FRIC, (320, 1400, 2600), 110, False, (6500, 3000, 0.55)),
    "Z": Phoneme(FRIC, (300, 1400, 2600), 85, True, (6500, 3000, 0.35), amp=0.35),
    "SH": Phoneme(FRIC, (300, 1840, 2750), 115, False, (3200, 1800, 0.6)),
    "ZH": Phoneme(FRIC, (300, 1840, 2750), 85, True, (3200, 1800, 0.35), amp=0.35),
    "F": Phoneme(FRIC, (340, 1100, 2080), 100, False, (5000, 6000, 0.22)),
    "V": Phoneme(FRIC, (260, 1100, 2080), 70, True, (5000, 6000, 0.12), amp=0.45),
    "TH": Phoneme(FRIC, (320, 1290, 2540), 95, False, (5500, 6000, 0.18)),
    "DH": Phoneme(FRIC, (270, 1290, 2540), 55, True, (5500, 6000, 0.1), amp=0.5),
    "HH": Phoneme(ASPIR, (500, 1500, 2500), 65, False, (0.0, 1000.0, 0.0)),
    # stops: (closure + burst); fric = burst spectrum
    "P": Phoneme(STOP, (400, 1100, 2150), 85, False, (1200, 2000, 0.6)),
    "B": Phoneme(STOP, (200, 1100, 2150), 70, True, (1200, 2000, 0.35), amp=0.25),
    "T": Phoneme(STOP, (400, 1600, 2600), 80, False, (4500, 3000, 0.65)),
    "D": Phoneme(STOP, (200, 1600, 2600), 65, True, (4500, 3000, 0.4), amp=0.25),
    "K": Phoneme(STOP, (350, 1800, 2300), 85, False, (2200, 1500, 0.65)),
    "G": Phoneme(STOP, (200, 1800, 2300), 70, True, (2200, 1500, 0.4), amp=0.25),
    "CH": Phoneme(AFFRIC, (350, 1800, 2700), 120, False, (3200, 1800, 0.6)),
    "JH": Phoneme(AFFRIC, (260, 1800, 2700), 100, True, (3200, 1800, 0.4), amp=0.3),
    # silences: short word-internal gap, comma, sentence end
    "_": Phoneme(PAUSE, (500, 1500, 2500), 40, False),
    ",": Phoneme(PAUSE, (500, 1500, 2500), 200, False),
    ".": Phoneme(PAUSE, (500, 1500, 2500), 380, False),
}

VOWELS = frozenset(k for k, p in PHONEMES.items() if p.kind in (VOWEL, DIPHTHONG))
