"""Optional engine: espeak-ng, run as a separate program (never imported or linked).

espeak-ng is GPL-3.0; this package is MIT. Running the ``espeak-ng`` executable as a subprocess keeps
the two separate: we only read the WAV it writes. It is used only when the program exists on PATH
(Debian: ``apt-get install espeak-ng``) and the caller asks for ``engine="espeak"``.

Character shaping without a pitch-synchronous algorithm: the line is rendered at pitch
``f0 / formant_ratio`` and speed ``rate / formant_ratio``, then resampled so every frequency is
multiplied by ``formant_ratio``. That lands pitch, formants and duration where the preset asks
(espeak's pitch range, ~65-170 Hz, limits how far the pitch can go; ``info`` reports the result).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile

import numpy as np

from ..errors import EngineError
from .formant import VoiceParams

ENGINE_NAME = "espeak-ng"
_BASE_WPM = 175.0


def espeak_path() -> str | None:
    """Path of the espeak-ng executable, or None when it is not installed."""
    return shutil.which("espeak-ng")


def espeak_version() -> str:
    exe = espeak_path()
    if exe is None:
        return "absent"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.strip().split("\n")[0][:80]


def render_espeak(text: str, vp: VoiceParams, sr: int) -> tuple[np.ndarray, dict]:
    """Speak ``text`` with espeak-ng and shape it to ``vp``; float32 mono at ``sr``."""
    from ..engine.bank import decode_file
    from ..engine.dsp.resample import resample

    exe = espeak_path()
    if exe is None:
        raise EngineError("voice engine='espeak': espeak-ng is not installed (apt-get install espeak-ng)")
    r = vp.formant_scale
    want_f0 = vp.f0 / r
    # espeak's -p is roughly exponential in f0 (measured: p=0 -> 65 Hz, 50 -> 98 Hz, 99 -> 167 Hz)
    pitch = int(min(99, max(0, round(72.0 * math.log2(max(want_f0, 1.0) / 65.0)))))
    speed = int(min(450, max(80, round(_BASE_WPM * vp.rate / r))))
    voice = "en-us+whisper" if vp.voicing < 0.3 else "en-us"
    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        # text on stdin: a line starting with '-' cannot be taken for an option
        proc = subprocess.run(
            [
                exe,
                "--stdin",
                "-v",
                voice,
                "-p",
                str(pitch),
                "-a",
                "120",
                "-s",
                str(speed),
                "-g",
                "2",
                "-w",
                tmp,
            ],
            input=text,
            text=True,
            capture_output=True,
            timeout=60,
        )
        if proc.returncode != 0:
            raise EngineError(f"voice engine='espeak': espeak-ng failed ({proc.stderr.strip()[:200]})")
        x = decode_file(tmp, 22050)[:, 0]
    finally:
        os.unlink(tmp)
    # resample so the result, read at sr, has every frequency scaled by r
    y = resample(x, 22050, max(8000, round(sr / r)))
    got_f0 = 65.0 * 2 ** (pitch / 72.0) * r
    info = {
        "espeak_pitch": pitch,
        "espeak_wpm": speed,
        "approx_f0_hz": round(got_f0, 1),
        "espeak_voice": voice,
    }
    return np.asarray(y, dtype=np.float32), info
