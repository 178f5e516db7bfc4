"""Every character preset stays intelligible: an offline recogniser (pocketsphinx, its en-us model inside
its wheel, no download) must recognise each preset's rendering of ten sentences of our own (tests/asr.py)
at least as often as the neutral voice's score minus one.

Why a recogniser: pitch and formant shifts and effects (reverb, growl) can leave a voice in character and
unintelligible; ogre was recognised 1/10 and ghost 0/10 where neutral was 9/10. Rendering and decoding are
deterministic, so each score is a fixed number for a given engine version; the bound is relative to the
neutral voice (not a constant) because scores move when the noise seeds change (see docs/voices.md).
A change of ENGINE_VERSION must rerun this file.
The character itself (pitch, formants, effects) is measured in tests/test_voice.py.
"""

from __future__ import annotations

import asr  # tests/asr.py (pytest puts tests/ on sys.path: there is no tests/__init__.py)
import numpy as np
import pytest

from middleware.voice import PRESETS
from middleware.voice.effects import reverb

needs_asr = pytest.mark.skipif(not asr.available(), reason="pocketsphinx (test extra) is not installed")


@pytest.fixture(scope="module")
def neutral_score(tmp_path_factory) -> int:
    score, misses = asr.score("neutral", tmp_path_factory.mktemp("voices"))
    assert score >= 6, f"the neutral voice itself is hard to recognise: {misses}"
    return score


@pytest.mark.slow  # 90 lines rendered and decoded: about a minute on a 2-core machine
@needs_asr
@pytest.mark.parametrize(
    "preset",
    [name for name in PRESETS if name != "neutral"],
)
def test_preset_is_as_intelligible_as_neutral_minus_one(preset, neutral_score, tmp_path):
    score, misses = asr.score(preset, tmp_path)
    assert score >= neutral_score - 1, f"{preset}: {score}/10, neutral {neutral_score}/10; missed {misses}"


@needs_asr
def test_a_hum_is_not_heard_as_a_sentence():
    # the measurement can fail: audio with no speech in it must not decode to one of the sentences
    t = np.arange(asr.ASR_SR * 2) / asr.ASR_SR
    hum = (0.3 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    assert asr.decode(hum) not in {" ".join(asr.words(s)) for s in asr.SENTENCES}


def test_ducked_reverb_clears_the_words_and_keeps_the_tail():
    # ghost's reverb is ducked under the voice (what took it from 0/10 to 9/10): while the dry signal
    # is loud the wet part must drop by about duck_db, and once the line has ended the tail is the
    # undocked one (the "far away" stays). Tolerances: 20 of the 30 dB because the envelope's 10 ms
    # attack lets the first milliseconds through; 0.5 dB in the tail, 1 s after the end, where the
    # 150 ms release has left the gain within 0.01 dB of unity.
    sr = 16000
    burst = np.random.default_rng(3).standard_normal(sr // 2).astype(np.float32) * 0.3
    x = np.concatenate([burst, np.zeros(sr // 2, dtype=np.float32)])
    params = {"room_size": 0.92, "wet": 0.25, "tail_s": 1.5}
    dry = (1 - 0.5 * params["wet"]) * np.concatenate([x, np.zeros(int(1.5 * sr), dtype=np.float32)])
    plain = reverb(x, sr, **params) - dry
    ducked = reverb(x, sr, duck_db=30.0, **params) - dry

    def db(a: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(a.astype(np.float64) ** 2)))

    under = slice(sr // 10, sr // 2)  # inside the burst, after the attack
    tail = slice(3 * sr // 2, 2 * sr)  # 1 s after the burst ends
    assert db(ducked[under]) < db(plain[under]) - 20.0
    assert abs(db(ducked[tail]) - db(plain[tail])) < 0.5
