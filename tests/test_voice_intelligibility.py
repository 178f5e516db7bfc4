"""Every character preset stays intelligible: an offline recogniser (pocketsphinx, its en-us model inside
its wheel, no download) must recognise each preset's rendering of ten sentences of our own (tests/asr.py)
at least as often as the neutral voice's score minus one.

Why a recogniser: pitch and formant shifts and effects (reverb, growl) can leave a voice in character and
unintelligible; ogre and ghost were recognised 0/10 where neutral was 9/10. Rendering and decoding are
deterministic, so each score is a fixed number for a given engine version; the bound is relative to the
neutral voice (not a constant) because scores move by a point or two when the engine's noise seeds change.
The character itself (pitch, formants, effects) is measured in tests/test_voice.py.
"""

from __future__ import annotations

import asr  # tests/asr.py (pytest puts tests/ on sys.path: there is no tests/__init__.py)
import numpy as np
import pytest

from middleware.voice import PRESETS

pytestmark = [
    pytest.mark.slow,  # 90 lines rendered and decoded: about a minute on a 2-core machine
    pytest.mark.skipif(not asr.available(), reason="pocketsphinx (test extra) is not installed"),
]

# Presets that do not reach the bound yet, with the reason; strict, so one that starts passing fails
# here until it is taken off the list.
KNOWN_SHORT: dict[str, str] = {
    "ogre": "7/10 against neutral 9/10: its growl (32 Hz tremolo, soft clip) costs two sentences; "
    "the tract (x0.78 -> x0.95) and rate (0.8 -> 0.9) changes took it from 0/10",
}


@pytest.fixture(scope="module")
def neutral_score(tmp_path_factory) -> int:
    score, misses = asr.score("neutral", tmp_path_factory.mktemp("voices"))
    assert score >= 6, f"the neutral voice itself is hard to recognise: {misses}"
    return score


@pytest.mark.parametrize(
    "preset",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_SHORT[name]))
        if name in KNOWN_SHORT
        else name
        for name in PRESETS
        if name != "neutral"
    ],
)
def test_preset_is_as_intelligible_as_neutral_minus_one(preset, neutral_score, tmp_path):
    score, misses = asr.score(preset, tmp_path)
    assert score >= neutral_score - 1, f"{preset}: {score}/10, neutral {neutral_score}/10; missed {misses}"


def test_a_hum_is_not_heard_as_a_sentence():
    # the measurement can fail: audio with no speech in it must not decode to one of the sentences
    t = np.arange(asr.ASR_SR * 2) / asr.ASR_SR
    hum = (0.3 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    assert asr.decode(hum) not in {" ".join(asr.words(s)) for s in asr.SENTENCES}
