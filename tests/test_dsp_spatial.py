"""Pan law, distance curves, listener geometry, Doppler and the Brown-Duda binaural model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from middleware.engine.dsp.pan import (
    distance_gain,
    equal_power_pan,
    equal_power_pan_array,
    make_rolloff,
)
from middleware.engine.dsp.spatial import (
    binaural_block,
    binaural_identity_coeffs,
    binaural_params,
    binaural_params_many,
    binaural_state,
    doppler_factor,
    listener_basis,
    relative_geometry,
)
from middleware.errors import EngineError

SR = 48000.0
A_HEAD = 0.0875
C = 343.0


# ---------------------------------------------------------------- pan law and distance


@pytest.mark.parametrize("pan", [-1.0, -0.5, 0.0, 0.3, 1.0])
def test_equal_power_pan_formula(pan: float) -> None:
    l, r = equal_power_pan(pan)
    theta = (pan + 1) * math.pi / 4
    assert l == pytest.approx(math.cos(theta), abs=1e-15)
    assert r == pytest.approx(math.sin(theta), abs=1e-15)
    assert l * l + r * r == pytest.approx(1.0, abs=1e-12)


def test_equal_power_pan_edges_and_array() -> None:
    assert equal_power_pan(-1.0) == pytest.approx((1.0, 0.0), abs=1e-15)
    assert equal_power_pan(1.0) == pytest.approx((0.0, 1.0), abs=1e-15)
    assert equal_power_pan(0.0) == pytest.approx((math.sqrt(0.5), math.sqrt(0.5)), abs=1e-15)
    assert equal_power_pan(5.0) == equal_power_pan(1.0)
    p = np.linspace(-1.5, 1.5, 31)
    la, ra = equal_power_pan_array(p)
    for i, v in enumerate(p):
        assert (la[i], ra[i]) == pytest.approx(equal_power_pan(float(v)), abs=1e-15)


def test_distance_inverse_clamped() -> None:
    d = np.array([0.0, 0.5, 1.0, 2.0, 10.0, 50.0, 100.0])
    g = distance_gain(d, 1.0, 50.0, "inverse")
    ref = 1.0 / np.clip(d, 1.0, 50.0)  # OpenAL inverse-distance-clamped, rolloff 1, ref distance 1
    np.testing.assert_allclose(g, ref, rtol=1e-15)
    assert distance_gain(200.0, 2.0, 20.0, "inverse") == pytest.approx(2.0 / 20.0)  # holds beyond max


def test_distance_linear_clamped() -> None:
    d = np.array([0.0, 2.0, 11.0, 20.0, 30.0])
    g = distance_gain(d, 2.0, 20.0, "linear")
    np.testing.assert_allclose(g, 1 - (np.clip(d, 2, 20) - 2) / 18, atol=1e-15)
    assert g[-1] == 0.0 and g[0] == 1.0


def test_distance_table() -> None:
    table = [[1.0, 0.0], [10.0, -20.0], [40.0, -60.0]]
    d = np.array([0.0, 1.0, 5.5, 10.0, 25.0, 40.0, 99.0])
    g = distance_gain(d, 1.0, 50.0, table)
    ref_db = np.interp(d, [1.0, 10.0, 40.0], [0.0, -20.0, -60.0])
    np.testing.assert_allclose(g, 10 ** (ref_db / 20), rtol=1e-12)
    assert distance_gain(100.0, 1.0, 50.0, [[0.0, 0.0], [10.0, -200.0]]) == 0.0


@pytest.mark.parametrize(
    "curve,min_d,max_d",
    [
        ("cubic", 1.0, 10.0),
        ("inverse", 0.0, 10.0),
        ("inverse", 5.0, 5.0),
        ([[2.0, 0.0], [1.0, -3.0]], 1.0, 10.0),
        ([[1.0, 0.0, 3.0]], 1.0, 10.0),
        ([[1.0, float("nan")]], 1.0, 10.0),
        ([], 1.0, 10.0),
    ],
)
def test_rolloff_validation(curve, min_d: float, max_d: float) -> None:
    with pytest.raises(EngineError):
        make_rolloff(curve, min_d, max_d)


# ---------------------------------------------------------------- geometry and Doppler


def test_geometry_default_listener() -> None:
    pos = np.array(
        [[0, 0, -2.0], [3.0, 0, 0], [-1.0, 0, 0], [0, 0, 5.0], [0, 4.0, 0], [1.0, 0, -1.0], [1.0, 0, 1.0]]
    )
    dist, az, el, pan = relative_geometry((0, 0, 0), (0, 0, -1), (0, 1, 0), pos)
    np.testing.assert_allclose(dist, np.linalg.norm(pos, axis=1))
    np.testing.assert_allclose(
        az[[0, 1, 2, 5, 6]], [0, math.pi / 2, -math.pi / 2, math.pi / 4, 3 * math.pi / 4]
    )
    assert abs(abs(az[3]) - math.pi) < 1e-12
    np.testing.assert_allclose(el, [0, 0, 0, 0, math.pi / 2, 0, 0], atol=1e-12)
    # pan = sin(azimuth) cos(elevation): behind folds to the sides, overhead is centred.
    np.testing.assert_allclose(pan, [0, 1, -1, 0, 0, math.sqrt(0.5), math.sqrt(0.5)], atol=1e-12)


def test_geometry_rotated_listener_matches_rotation_matrix() -> None:
    rng = np.random.default_rng(2)
    lp = np.array([1.0, 2.0, -3.0])
    # Listener yawed by 90 deg to the right: forward = +X, so right = forward x up = +Z.
    _, az, el, pan = relative_geometry(lp, (1, 0, 0), (0, 1, 0), lp + np.array([[0, 0, 2.0]]))
    assert az[0] == pytest.approx(math.pi / 2) and pan[0] == pytest.approx(1.0)
    # Random orientation: build the basis by hand and compare azimuth/elevation.
    f = rng.normal(size=3)
    up = rng.normal(size=3)
    pos = rng.normal(size=(20, 3)) * 5
    fn = f / np.linalg.norm(f)
    un = up - up.dot(fn) * fn
    un /= np.linalg.norm(un)
    rn = np.cross(fn, un)
    rel = pos - lp
    x, y, z = rel @ rn, rel @ un, rel @ fn
    _dist, az, el, pan = relative_geometry(lp, f, up, pos)
    np.testing.assert_allclose(az, np.arctan2(x, z), atol=1e-12)
    np.testing.assert_allclose(el, np.arcsin(y / np.linalg.norm(rel, axis=1)), atol=1e-12)
    np.testing.assert_allclose(pan, np.sin(az) * np.cos(el), atol=1e-12)
    assert listener_basis(f, up) @ listener_basis(f, up).T == pytest.approx(np.eye(3))


def test_geometry_validation() -> None:
    with pytest.raises(EngineError):
        listener_basis((0, 0, 0), (0, 1, 0))
    with pytest.raises(EngineError):
        listener_basis((0, 1, 0), (0, 2, 0))
    with pytest.raises(EngineError):
        relative_geometry((0, float("nan"), 0), (0, 0, -1), (0, 1, 0), np.zeros((1, 3)))


def _openal_doppler(lp, lv, sp, sv, df):
    """OpenAL 1.1 spec formula (SL = source -> listener), written independently of the engine code."""
    sl = np.asarray(lp, float) - np.asarray(sp, float)
    mag = np.linalg.norm(sl)
    vls = np.dot(sl, lv) / mag
    vss = np.dot(sl, sv) / mag
    vls = min(vls, C / df)
    vss = min(vss, C / df)
    return (C - df * vls) / (C - df * vss)


def test_doppler_against_openal_formula() -> None:
    rng = np.random.default_rng(5)
    lp, lv = rng.normal(size=3), rng.normal(size=3) * 10
    sp, sv = rng.normal(size=(30, 3)) * 20, rng.normal(size=(30, 3)) * 30
    f = doppler_factor(lp, lv, sp, sv, 0.8)
    ref = np.array([_openal_doppler(lp, lv, sp[i], sv[i], 0.8) for i in range(30)])
    np.testing.assert_allclose(f, np.clip(ref, 0.5, 2.0), rtol=1e-12)


def test_doppler_directions_amount_and_clamp() -> None:
    src = np.array([[0.0, 0.0, -10.0]])
    approach = np.array([[0.0, 0.0, 34.3]])  # towards the listener at the origin
    assert doppler_factor((0, 0, 0), (0, 0, 0), src, approach)[0] == pytest.approx(C / (C - 34.3))
    assert doppler_factor((0, 0, 0), (0, 0, 0), src, -approach)[0] == pytest.approx(C / (C + 34.3))
    assert doppler_factor((0, 0, 0), (0, 0, -34.3), src, np.zeros((1, 3)))[0] == pytest.approx((C + 34.3) / C)
    assert doppler_factor((0, 0, 0), (0, 0, 0), src, approach, 0.0)[0] == 1.0
    half = doppler_factor((0, 0, 0), (0, 0, 0), src, approach, 0.5)[0]
    assert half == pytest.approx(C / (C - 0.5 * 34.3))
    assert doppler_factor((0, 0, 0), (0, 0, 0), src, approach * 20)[0] == 2.0
    assert doppler_factor((0, 0, 0), (0, 0, 0), src, -approach * 20)[0] == 0.5
    assert doppler_factor((0, 0, 0), (0, 0, 0), np.zeros((1, 3)), approach)[0] == 1.0  # co-located


# ---------------------------------------------------------------- binaural


def _woodworth_samples(az_deg: float) -> float:
    th = math.radians(az_deg)
    return A_HEAD / C * (th + math.sin(th)) * SR


def _render(mono: np.ndarray, az: float, el: float = 0.0, shadow: bool = True, block: int = 0) -> np.ndarray:
    dl, dr, cl, cr = binaural_params(az, el, SR)
    delays = np.array([dl, dr])
    coeffs = np.stack([cl, cr]) if shadow else binaural_identity_coeffs()
    ring, wpos, sh = binaural_state(SR)
    out = np.empty((len(mono), 2), np.float64)
    step = block or len(mono)
    for s in range(0, len(mono), step):
        binaural_block(mono[s : s + step], out[s : s + step], delays, delays, coeffs, coeffs, ring, wpos, sh)
    return out


def _xcorr_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 64) -> float:
    """Lag (samples) by which b trails a, from the cross-correlation peak with parabolic interpolation."""
    n = len(a)
    lags = np.arange(-max_lag, max_lag + 1)
    cc = np.array([np.dot(a[max_lag : n - max_lag], b[max_lag + k : n - max_lag + k]) for k in lags])
    i = int(np.argmax(cc))
    y0, y1, y2 = cc[i - 1], cc[i], cc[i + 1]
    return float(lags[i] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2))


def _band_noise(n: int, lo: float, hi: float, seed: int = 3) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=n)
    sos = signal.butter(6, [lo, hi], btype="bandpass", fs=SR, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


@pytest.mark.parametrize("az_deg", [0.0, 30.0, 60.0, 90.0])
def test_itd_matches_woodworth(az_deg: float) -> None:
    noise = _band_noise(24000, 100.0, 6000.0)
    out = _render(noise, math.radians(az_deg), shadow=False)
    lag = _xcorr_lag(out[:, 1], out[:, 0])  # source on the right: the left (far) ear trails
    assert abs(lag - _woodworth_samples(az_deg)) < 1.0
    # Mirror image on the left side.
    out = _render(noise, -math.radians(az_deg), shadow=False)
    assert abs(_xcorr_lag(out[:, 0], out[:, 1]) - _woodworth_samples(az_deg)) < 1.0


@pytest.mark.parametrize("az_deg", [30.0, 90.0])
def test_itd_with_head_shadow_at_high_frequencies(az_deg: float) -> None:
    # Above ~4 kHz the shadow filters' group delays nearly cancel, so the full model keeps Woodworth's ITD.
    noise = _band_noise(24000, 4000.0, 12000.0)
    out = _render(noise, math.radians(az_deg), shadow=True)
    assert abs(_xcorr_lag(out[:, 1], out[:, 0]) - _woodworth_samples(az_deg)) < 1.0


def _analog_shadow(f_hz: np.ndarray, theta: float) -> np.ndarray:
    alpha = (1 + 0.1 / 2) + (1 - 0.1 / 2) * np.cos(theta / math.radians(150.0) * math.pi)
    w0 = C / A_HEAD
    w = 2 * math.pi * f_hz
    return (1 + 1j * alpha * w / (2 * w0)) / (1 + 1j * w / (2 * w0))


@pytest.mark.parametrize("az_deg", [0.0, 45.0, 90.0, 135.0, -70.0])
def test_shadow_filter_response(az_deg: float) -> None:
    az = math.radians(az_deg)
    _, _, cl, cr = binaural_params(az, 0.0, SR)
    freqs = np.array([50.0, 500.0, 2000.0, 8000.0, 16000.0])
    for coeffs, theta in ((cr, math.acos(math.sin(az))), (cl, math.acos(-math.sin(az)))):
        _, h = signal.freqz([coeffs[0], coeffs[1]], [1.0, coeffs[2]], worN=freqs, fs=SR)
        # Bilinear transform: digital frequency f maps to analog 2 sr tan(pi f / sr).
        f_analog = 2 * SR * np.tan(np.pi * freqs / SR) / (2 * np.pi)
        np.testing.assert_allclose(h, _analog_shadow(f_analog, theta), rtol=1e-9, atol=1e-12)
        # Unwarped: within 0.5 dB of the analog magnitude up to 8 kHz.
        err_db = 20 * np.log10(np.abs(h[:4]) / np.abs(_analog_shadow(freqs[:4], theta)))
        assert np.max(np.abs(err_db)) < 0.5


def test_binaural_kernel_filter_matches_lfilter_and_contralateral_is_darker() -> None:
    x = np.random.default_rng(8).normal(size=20000).astype(np.float32) * 0.1
    az = math.radians(90.0)
    dl, dr, _cl, cr = binaural_params(az, 0.0, SR)
    assert dr == 0.0 and dl == pytest.approx(_woodworth_samples(90.0))
    out = _render(x, az)
    ref_r = signal.lfilter([cr[0], cr[1]], [1.0, cr[2]], x.astype(np.float64))
    np.testing.assert_allclose(out[:, 1], ref_r, atol=1e-9)
    f, pl = signal.welch(out[:, 0], fs=SR, nperseg=1024)
    _, pr = signal.welch(out[:, 1], fs=SR, nperseg=1024)
    hi = f > 5000
    lo = f < 200
    assert 10 * np.log10(pr[hi].sum() / pl[hi].sum()) > 10.0  # contralateral (left) ear much darker
    assert abs(10 * np.log10(pr[lo].sum() / pl[lo].sum())) < 1.5  # low frequencies diffract around


def test_binaural_split_invariance_and_ramp() -> None:
    x = np.random.default_rng(9).normal(size=5000).astype(np.float32)
    whole = _render(x, 0.7, 0.2)
    # exact: same kernel (no fastmath) and samples, only the cuts differ
    np.testing.assert_array_equal(_render(x, 0.7, 0.2, block=37), whole)
    # A ramp from one direction to another: split at the midpoint of delays and coeffs equals one call.
    p0 = binaural_params(-1.2, 0.0, SR)
    p1 = binaural_params(1.0, 0.0, SR)
    d0, d1 = np.array(p0[:2]), np.array(p1[:2])
    c0, c1 = np.stack(p0[2:]), np.stack(p1[2:])
    st = binaural_state(SR)
    one = np.empty((512, 2))
    binaural_block(x[:512], one, d0, d1, c0, c1, *st)
    st = binaural_state(SR)
    two = np.empty((512, 2))
    dm, cm = 0.5 * (d0 + d1), 0.5 * (c0 + c1)
    binaural_block(x[:256], two[:256], d0, dm, c0, cm, *st)
    binaural_block(x[256:512], two[256:], dm, d1, cm, c1, *st)
    np.testing.assert_allclose(two, one, atol=1e-9)
    assert np.all(np.isfinite(one))


def test_binaural_params_many_matches_scalar() -> None:
    rng = np.random.default_rng(4)
    az = rng.uniform(-math.pi, math.pi, 50)
    el = rng.uniform(-1.5, 1.5, 50)
    d = np.empty((50, 2))
    c = np.empty((50, 2, 3))
    binaural_params_many(az, el, SR, d, c)
    # Same formulas, different compiled code: the batch loop may be inlined and vectorised (SVML's acos
    # when installed) unlike the scalar call, so results may differ by a few ULPs. 1e-12 (delays in
    # samples, coefficients ~1) is thousands of ULPs and inaudible; a wrong ear or index is off by O(1).
    for i in range(50):
        dl, dr, cl, cr = binaural_params(az[i], el[i], SR)
        np.testing.assert_allclose(d[i], [dl, dr], rtol=0, atol=1e-12)
        np.testing.assert_allclose(c[i, 0], cl, rtol=0, atol=1e-12)
        np.testing.assert_allclose(c[i, 1], cr, rtol=0, atol=1e-12)
    # Front/back symmetry: 30 deg and 150 deg share the ITD (lateral angle), not the shadow.
    assert binaural_params(math.radians(30), 0.0, SR)[1] == 0.0
    assert binaural_params(math.radians(150), 0.0, SR)[0] == pytest.approx(
        binaural_params(math.radians(30), 0.0, SR)[0]
    )
