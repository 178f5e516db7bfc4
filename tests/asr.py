"""Intelligibility of a rendered voice, measured with an offline speech recogniser (pocketsphinx).

pocketsphinx ships its en-us acoustic model, dictionary and language model inside its wheel, so the
measurement needs no download and no network. A line counts as *recognised* when the decoded word
sequence equals the spoken sentence exactly.

The search is a JSGF grammar listing the ten sentences (:func:`sentence_jsgf`). The decoder's search
may stop inside a sentence when the audio does not fit any of them to the end; such partial or empty
hypotheses count as misses. (A loop over the sentences' words was tried first: 20 s per preset on our
2-core machine and 2/10 for the neutral voice, too slow and too strict for a rough formant voice.)
Rendering is deterministic (the noise seed comes from the line's cache key) and so is the decoder
(our one-LSB dither is seeded per line), so a preset's score is a fixed number for a given engine
version; it moves by up to three when the engine version (hence the noise seeds) changes, which is
why the tests compare with the neutral voice minus one rather than with a constant.

Nothing here depends on the middleware except :func:`render_16k`, which renders a line the way
``soundscape say`` does (``middleware.voice.render_line`` at 48 kHz) and resamples it with the engine's
resampler to the 16 kHz the acoustic model was trained on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

ASR_SR = 16000  # the rate of pocketsphinx's en-us acoustic model
RENDER_SR = 48000  # the engine's rate: what a player hears before we downsample for the recogniser

SENTENCES: tuple[str, ...] = (
    "the bridge is out",
    "bring me the red sword",
    "the gate is locked tonight",
    "follow the river north",
    "do not open the door",
    "the king is in the tower",
    "give me the gold and leave",
    "we ride at dawn",
    "the dragon sleeps under the hill",
    "find the old map in the cave",
)


def words(sentence: str) -> list[str]:
    """Lower-case words of a sentence (what the recogniser returns, without fillers)."""
    return re.findall(r"[a-z']+", sentence.lower())


def vocabulary(sentences: tuple[str, ...] = SENTENCES) -> list[str]:
    """Every word of the sentence set, once, in order of first use."""
    return list(dict.fromkeys(w for s in sentences for w in words(s)))


def sentence_jsgf(sentences: tuple[str, ...] = SENTENCES) -> str:
    """A JSGF grammar accepting exactly one of the sentences."""
    alts = " | ".join(" ".join(words(s)) for s in sentences)
    return f"#JSGF V1.0;\ngrammar closedset;\npublic <line> = ( {alts} ) ;\n"


def available() -> bool:
    """True when pocketsphinx (and its packaged en-us model) can be imported."""
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _decoder():
    import pocketsphinx

    model = Path(pocketsphinx.get_model_path()) / "en-us"
    dec = pocketsphinx.Decoder(
        hmm=str(model / "en-us"),
        dict=str(model / "cmudict-en-us.dict"),
        samprate=ASR_SR,
        loglevel="FATAL",
        beam=1e-120,  # wide beams: the grammar is tiny, and narrow ones lost whole lines (empty hypotheses)
        pbeam=1e-120,
        wbeam=1e-100,
        cmn="batch",  # each line normalised on its own: a score does not depend on what was decoded before
    )
    missing = [w for w in vocabulary() if dec.lookup_word(w) is None]
    if missing:
        raise ValueError(f"words not in pocketsphinx's dictionary: {missing}")
    dec.add_jsgf_string("closedset", sentence_jsgf())
    dec.activate_search("closedset")
    return dec


def decode(audio_16k: np.ndarray) -> str:
    """The recogniser's word sequence for mono float audio at 16 kHz (fillers and silences dropped)."""
    x = np.asarray(audio_16k, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    pcm = x * (0.7 * 32767 / peak) if peak > 0 else x
    # one LSB of dither, seeded per call: digital silence (log energy -inf) cost the neutral voice 3 of
    # 10, and the decoder's own dither draws from one generator for all lines (scores depended on order)
    pcm = np.round(pcm + np.random.default_rng(0).standard_normal(pcm.size)).astype(np.int16)
    dec = _decoder()
    dec.start_utt()
    dec.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    return " ".join(words(hyp.hypstr)) if hyp is not None else ""


def render_16k(sentence: str, preset: str, cache_dir: Path | None = None) -> np.ndarray:
    """A sentence in a preset's voice as the engine renders it, resampled to 16 kHz for the recogniser."""
    from middleware.engine.dsp.resample import resample
    from middleware.voice import render_line

    y, _ = render_line(sentence, preset, RENDER_SR, cache_dir=cache_dir, use_cache=cache_dir is not None)
    pad = np.zeros(RENDER_SR // 2, dtype=np.float32)  # a little silence either side, as in a recording
    return resample(np.concatenate([pad, y, pad]), RENDER_SR, ASR_SR)


def score(preset: str, cache_dir: Path | None = None) -> tuple[int, list[tuple[str, str]]]:
    """(sentences recognised exactly out of len(SENTENCES), [(spoken, heard)] for the misses)."""
    misses = []
    for s in SENTENCES:
        heard = decode(render_16k(s, preset, cache_dir))
        if heard != " ".join(words(s)):
            misses.append((s, heard))
    return len(SENTENCES) - len(misses), misses
