"""Voices as a structure of arrays: one row per voice slot, one column per field.

Two float64 tables and one int64 table hold everything the kernel needs, so one numba call renders
every voice of a block (a Python call per voice would cost more than the mixing itself):

- ``P`` (parameters, written at control rate by the engine from API commands),
- ``F`` (render state: playhead, ramp endpoints, filter memories, envelope),
- ``I`` (integers: state, sample location, loop, bus, schedule, sends).

Ramps are stored as (from, to) pairs: the kernel interpolates across the block, then the engine
copies ``to`` into ``from`` for the next block (SoLoud's faders, miniaudio's gainer).
"""

from __future__ import annotations

import numpy as np

from .specs import MAX_SENDS  # declared with the other limits a scene must respect

DELAY_LEN = 256  # per-voice binaural delay line: > max ITD (0.66 ms = 126 frames at 192 kHz)

# --- voice states (I[:, ST]) ---
FREE, PLAYING, VIRTUAL = 0, 1, 2

# --- integer fields ---
(
    ST,  # state
    SMP,  # sample index in the bank
    OFS,  # offset into bank.data
    LEN,  # frames
    CH,  # channels (1 or 2)
    LOOP,  # 1 = loop
    LS,  # loop start frame
    LE,  # loop end frame (exclusive)
    BUS,  # output bus index
    START,  # absolute start frame
    STOP,  # absolute stop frame, -1 = none
    HANDLE,  # public handle
    BIN,  # 1 = binaural rendering
    PRIO,  # priority (higher keeps its real voice)
    SPATIAL,  # 1 = 3D positioned
    ENDED,  # set by the kernel when the voice finished in this block
    DPOS,  # binaural delay line write index
    SEND0,  # first of MAX_SENDS send bus indices (-1 = unused)
) = range(18)
DIRTY = SEND0 + MAX_SENDS  # 1 = parameters changed: recompute this voice's targets
N_INT = DIRTY + 1

# --- float render-state fields (F) ---
(
    POS,
    RATE0,
    RATE1,
    GL0,
    GL1,
    GR0,
    GR1,
    LPA0,
    LPA1,
    HPA0,
    HPA1,
    LPSL,
    LPSR,
    HPSL,
    HPSR,
    ENV,
    ENVSTEP,
    RELEASE,  # release length in frames for a scheduled stop
    DL0,
    DL1,
    DR0,
    DR1,  # binaural per-ear delays (fractional frames), ramped
    BL_B0,
    BL_B1,
    BL_A1,
    BR_B0,
    BR_B1,
    BR_A1,  # head-shadow filter coefficients per ear, (b0, b1, a1) in this order (targets.py relies on it)
    SHL_X,
    SHL_Y,
    SHR_X,
    SHR_Y,  # head-shadow filter memories
    SND0,  # MAX_SENDS x (from, to) send gains
) = range(33)
HPM0 = SND0 + 2 * MAX_SENDS  # high-pass mix (0 = off, 1 = on), ramped so switching never clicks
HPM1 = HPM0 + 1
AUD = HPM1 + 1  # audibility: max(left, right) target gain incl. distance, written by compute_targets
N_FLOAT = AUD + 1

# --- parameter fields (P), set by API calls, turned into targets once per block ---
(
    P_GAIN,  # linear voice gain
    P_PAN,  # -1..1
    P_PITCH,  # playback rate factor
    P_LP,  # low-pass cutoff Hz (0 = off)
    P_HP,  # high-pass cutoff Hz (0 = off)
    P_X,
    P_Y,
    P_Z,
    P_VX,
    P_VY,
    P_VZ,
    P_MIND,
    P_MAXD,
    P_ROLLOFF,  # 0 inverse, 1 linear, 2 custom table
    P_TABLE,  # index of the custom rolloff table
    P_DOPPLER,  # Doppler amount (0 = off)
    P_SENDG,  # MAX_SENDS linear send gains
) = range(17)
N_PARAM = P_SENDG + MAX_SENDS


class VoiceTables:
    """The arrays of one engine's voice pool."""

    def __init__(self, max_voices: int) -> None:
        self.max_voices = max_voices
        self.I = np.zeros((max_voices, N_INT), dtype=np.int64)
        self.F = np.zeros((max_voices, N_FLOAT), dtype=np.float64)
        self.P = np.zeros((max_voices, N_PARAM), dtype=np.float64)
        self.delay = np.zeros((max_voices, DELAY_LEN), dtype=np.float32)
        self.I[:, STOP] = -1
        self.I[:, SEND0 : SEND0 + MAX_SENDS] = -1
