"""Listener-relative 3D geometry, Doppler and a spherical-head binaural renderer.

Conventions (OpenGL, like OpenAL): the listener has ``forward`` (default (0, 0, -1)) and ``up`` (default
(0, 1, 0)); ``right = forward x up``. For a source at listener-relative vector ``r`` with components
``x = r.right``, ``y = r.up``, ``z = r.forward``:

* ``distance = |r|``
* ``azimuth = atan2(x, z)`` radians: 0 straight ahead, +pi/2 hard right, -pi/2 hard left, +-pi behind;
* ``elevation = atan2(y, hypot(x, z))``: +pi/2 straight above.
* ``pan = x / distance`` (= sin(azimuth) cos(elevation)), in [-1, 1]. Sources behind fold to the sides
  (a source at 150 deg pans like one at 30 deg) and sources straight above or below are centred, which
  keeps pan continuous as a source passes overhead. At distance 0 pan is 0.

Doppler factor (pitch multiplier), with ``u`` the unit vector *from the listener to the source*, ``A`` the
doppler amount and c = 343 m/s::

    factor = (c + A * v_listener.u) / (c + A * v_source.u),   clamped to [0.5, 2]

so a source moving towards the listener (v_source.u < 0) or a listener moving towards the source
(v_listener.u > 0) raises the pitch. This equals OpenAL 1.1's ``(SS - DF vls) / (SS - DF vss)`` whose SL
vector points from source to listener (u = -SL/|SL|). If a denominator reaches <= 0 (source faster than sound
towards the listener) the factor is 2; a numerator <= 0 gives 0.5. ``A = 0`` gives exactly 1.

Binaural model: Brown & Duda (1998), "A structural model for binaural sound synthesis", spherical head of
radius ``a = 0.0875`` m. The far ear is delayed by Woodworth's ITD ``(a/c)(phi + sin phi)`` where ``phi`` is
the lateral angle ``asin(sin(az) cos(el))`` (the near ear gets delay 0, so the renderer adds no latency for
a centred source). Each ear gets the head-shadow filter
``H(s) = (1 + j alpha w / (2 w0)) / (1 + j w / (2 w0))``, ``w0 = c / a``, with
``alpha(theta) = (1 + alpha_min/2) + (1 - alpha_min/2) cos(theta / theta_min * pi)``, alpha_min = 0.1,
theta_min = 150 deg, theta the angle between the source direction and that ear's axis (ears at +-90 deg
azimuth). Discretised by the bilinear transform ``s = 2 sr (1 - z^-1) / (1 + z^-1)`` (no prewarping; the
corner is near 1.25 kHz where warping is negligible) into ``y[n] = b0 x[n] + b1 x[n-1] - a1 y[n-1]``,
coefficients ``(b0, b1, a1)``. The pole does not depend on the angle, so ramping coefficients between
angles is always stable.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...checks import vec3
from ...errors import EngineError

SPEED_OF_SOUND = 343.0
HEAD_RADIUS = 0.0875
ALPHA_MIN = 0.1
THETA_MIN = math.radians(150.0)
DOPPLER_MIN = 0.5
DOPPLER_MAX = 2.0


def _array3(v, name: str) -> np.ndarray:
    """``v`` as a float64 array of 3 (the project's one vector check: ``middleware.checks.vec3``)."""
    return np.asarray(vec3(name, v, EngineError), dtype=np.float64)


def listener_basis(forward=(0.0, 0.0, -1.0), up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Orthonormal ``(3, 3)`` matrix whose rows are (right, up, forward) of the listener.

    ``up`` is re-orthogonalised against ``forward`` (Gram-Schmidt) so a slightly tilted up vector from a
    game camera still gives a proper basis. Raises EngineError for zero or parallel vectors.
    """
    f = _array3(forward, "forward")
    u = _array3(up, "up")
    nf = np.linalg.norm(f)
    if nf < 1e-9:
        raise EngineError(f"forward={tuple(f)}: must not be the zero vector")
    f = f / nf
    u = u - np.dot(u, f) * f
    nu = np.linalg.norm(u)
    if nu < 1e-6:
        raise EngineError(f"up={tuple(up)}: must not be zero or parallel to forward={tuple(forward)}")
    u = u / nu
    r = np.cross(f, u)
    return np.stack([r, u, f])


def relative_geometry(
    listener_pos, forward, up, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distance, azimuth, elevation and pan of ``positions`` (n, 3) relative to the listener.

    All outputs are float64 ``(n,)``; see the module docstring for the exact definitions.
    """
    lp = _array3(listener_pos, "listener position")
    basis = listener_basis(forward, up)
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    local = (p - lp) @ basis.T  # columns: x (right), y (up), z (forward)
    x, y, z = local[:, 0], local[:, 1], local[:, 2]
    dist = np.sqrt(x * x + y * y + z * z)
    az = np.arctan2(x, z)
    el = np.arctan2(y, np.hypot(x, z))
    with np.errstate(invalid="ignore", divide="ignore"):
        pan = np.where(dist > 1e-12, x / np.where(dist > 1e-12, dist, 1.0), 0.0)
    return dist, az, el, np.clip(pan, -1.0, 1.0)


def doppler_factor(
    listener_pos,
    listener_vel,
    positions: np.ndarray,
    velocities: np.ndarray,
    amount: float | np.ndarray = 1.0,
    c: float = SPEED_OF_SOUND,
) -> np.ndarray:
    """Per-voice Doppler pitch factor (see module docstring for the exact convention), float64 (n,)."""
    lp = _array3(listener_pos, "listener position")
    lv = _array3(listener_vel, "listener velocity")
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    v = np.asarray(velocities, dtype=np.float64).reshape(-1, 3)
    amt = np.broadcast_to(np.asarray(amount, dtype=np.float64), (p.shape[0],))
    rel = p - lp
    dist = np.linalg.norm(rel, axis=1)
    safe = np.where(dist > 1e-9, dist, 1.0)
    u = rel / safe[:, None]
    num = c + amt * (u @ lv)
    den = c + amt * np.einsum("ij,ij->i", v, u)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(den > 0, num / np.where(den > 0, den, 1.0), DOPPLER_MAX)
    f = np.where(num <= 0, DOPPLER_MIN, f)
    f = np.clip(f, DOPPLER_MIN, DOPPLER_MAX)
    return np.where((dist > 1e-9) & (amt != 0.0), f, 1.0)


@njit(cache=True, nogil=True)
def woodworth_itd(lateral):
    """Woodworth interaural time difference in seconds for a lateral angle in radians (sign ignored)."""
    phi = abs(lateral)
    if phi > math.pi / 2:
        phi = math.pi / 2
    return (HEAD_RADIUS / SPEED_OF_SOUND) * (phi + math.sin(phi))


@njit(cache=True, nogil=True)
def shadow_alpha(theta):
    """Brown-Duda head-shadow zero factor for the angle ``theta`` (radians) between source and ear axis."""
    return (1.0 + ALPHA_MIN / 2.0) + (1.0 - ALPHA_MIN / 2.0) * math.cos(theta / THETA_MIN * math.pi)


@njit(cache=True, nogil=True)
def shadow_coeffs_into(theta, sr, out):
    """Bilinear-transform coefficients ``(b0, b1, a1)`` of the head-shadow filter into ``out[0:3]``."""
    alpha = shadow_alpha(theta)
    tau = HEAD_RADIUS / (2.0 * SPEED_OF_SOUND)  # 1 / (2 w0)
    k = 2.0 * sr
    tk = tau * k
    norm = 1.0 / (1.0 + tk)
    out[0] = (1.0 + alpha * tk) * norm
    out[1] = (1.0 - alpha * tk) * norm
    out[2] = (1.0 - tk) * norm


@njit(cache=True, nogil=True)
def _ear_angles(azimuth, elevation):
    s = math.sin(azimuth) * math.cos(elevation)  # component along the right-ear axis
    if s > 1.0:
        s = 1.0
    elif s < -1.0:
        s = -1.0
    theta_r = math.acos(s)
    theta_l = math.acos(-s)
    lateral = math.asin(s)
    return theta_l, theta_r, lateral


@njit(cache=True, nogil=True)
def ear_delays(lateral, sr):
    """``(delay_l, delay_r)`` in fractional samples for a lateral angle: the nearer ear gets 0."""
    itd = woodworth_itd(lateral) * sr
    return (itd if lateral > 0.0 else 0.0), (itd if lateral < 0.0 else 0.0)


@njit(cache=True, nogil=True)
def binaural_params(azimuth, elevation, sr):
    """Per-ear delays (fractional samples) and shadow coefficients for one source direction.

    Returns ``(delay_l, delay_r, coeffs_l, coeffs_r)``; the ear nearer the source has delay 0.
    Allocates its two coefficient arrays: compiled per-block code uses :func:`binaural_params_into`.
    """
    cl = np.empty(3, dtype=np.float64)
    cr = np.empty(3, dtype=np.float64)
    delay_l, delay_r = binaural_params_into(azimuth, elevation, sr, cl, cr)
    return delay_l, delay_r, cl, cr


@njit(cache=True, nogil=True)
def binaural_params_into(azimuth, elevation, sr, coeffs_l, coeffs_r):
    """:func:`binaural_params` writing the coefficients into ``coeffs_l``/``coeffs_r`` (3,) views;
    returns ``(delay_l, delay_r)``. No allocation, so the per-block targets kernel can call it."""
    theta_l, theta_r, lateral = _ear_angles(azimuth, elevation)
    shadow_coeffs_into(theta_l, sr, coeffs_l)
    shadow_coeffs_into(theta_r, sr, coeffs_r)
    return ear_delays(lateral, sr)


@njit(cache=True, nogil=True)
def binaural_params_many(azimuth, elevation, sr, delays_out, coeffs_out):
    """Vectorised :func:`binaural_params`: fills ``delays_out`` (n, 2) and ``coeffs_out`` (n, 2, 3).

    Ear index 0 is left, 1 is right, matching output channels.
    """
    for i in range(azimuth.shape[0]):
        dl, dr = binaural_params_into(azimuth[i], elevation[i], sr, coeffs_out[i, 0], coeffs_out[i, 1])
        delays_out[i, 0] = dl
        delays_out[i, 1] = dr


def max_itd_samples(sr: float) -> float:
    """Largest delay :func:`binaural_params` can return at ``sr`` (source at +-90 deg)."""
    return (HEAD_RADIUS / SPEED_OF_SOUND) * (math.pi / 2 + 1.0) * sr


def binaural_state(sr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh state for :func:`binaural_block`: ``(ring, write_pos, shadow)``.

    ``ring`` is a float64 power-of-two history of the mono input long enough for the largest ITD;
    ``write_pos`` an int64 (1,) index; ``shadow`` (2, 2) holds each ear filter's ``(x[n-1], y[n-1])``.
    """
    need = math.ceil(max_itd_samples(sr)) + 4
    size = 1 << max(need - 1, 1).bit_length()
    return np.zeros(size, np.float64), np.zeros(1, np.int64), np.zeros((2, 2), np.float64)


def binaural_identity_coeffs() -> np.ndarray:
    """``(2, 3)`` pass-through shadow coefficients (b0=1, b1=0, a1=0): delays only."""
    return np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


@njit(cache=True, nogil=True)
def binaural_block(mono_in, out, delay_from, delay_to, coeffs_from, coeffs_to, ring, write_pos, shadow):
    """Render a mono block to two ears: fractional delay (linear interpolation) then the shadow filter.

    ``mono_in`` (n,) float32/64; ``out`` (n, 2) is overwritten. ``delay_*`` (2,) in samples and
    ``coeffs_*`` (2, 3) are ramped linearly per sample, reaching ``*_to`` on the last sample (same rule
    as the biquad ramps), so moving sources do not click. Delays are clamped to the ring's capacity.
    """
    n = mono_in.shape[0]
    if n == 0:
        return
    size = ring.shape[0]
    mask = size - 1
    max_delay = size - 2.0
    w = write_pos[0]
    inv_n = 1.0 / n
    for i in range(n):
        t = (i + 1) * inv_n
        ring[w] = mono_in[i]
        for e in range(2):
            d = delay_from[e] + (delay_to[e] - delay_from[e]) * t
            if d < 0.0:
                d = 0.0
            elif d > max_delay:
                d = max_delay
            di = int(d)
            f = d - di
            s = (1.0 - f) * ring[(w - di) & mask] + f * ring[(w - di - 1) & mask]
            b0 = coeffs_from[e, 0] + (coeffs_to[e, 0] - coeffs_from[e, 0]) * t
            b1 = coeffs_from[e, 1] + (coeffs_to[e, 1] - coeffs_from[e, 1]) * t
            a1 = coeffs_from[e, 2] + (coeffs_to[e, 2] - coeffs_from[e, 2]) * t
            y = b0 * s + b1 * shadow[e, 0] - a1 * shadow[e, 1]
            if abs(y) < 1e-30:
                y = 0.0
            shadow[e, 0] = s
            shadow[e, 1] = y
            out[i, e] = y
        w = (w + 1) & mask
    write_pos[0] = w
