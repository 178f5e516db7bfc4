"""Neural texture morph: a tiny model trained from scratch, measured on its audio.

Sources are synthesised here (band-shaped noise, so their spectra are known): a low rumble
(100-1500 Hz, slowly breathing) and a bright hiss with clicks (2.5-10 kHz). The measurements:
endpoint band statistics (through the real engine), monotonic log-domain morph vs a crossfade,
no loop period over a minute, ONNX == training forward pass, and broken files -> ModelError.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from middleware.commands import train as train_cmd
from middleware.config import EngineConfig
from middleware.engine import Engine
from middleware.errors import ModelError
from middleware.ml.morph import (
    MorphModel,
    MorphStream,
    audible_bands,
    bake_morph,
    band_levels,
    band_stats,
    frame_size,
    render_morph,
)
from middleware.ml.sessions import session
from middleware.ml.train_morph import MorphConfig, train_morph_files
from middleware.tools.example_assets import write_wav

SR = 48000
LOOP_S = 3.2  # 300 analysis hops exactly: a looped source repeats on the analysis grid
TINY = MorphConfig(latent=3, hidden=16, steps=400, batch=128, lr=5e-3, seed=2, calib_seconds=5.0)


def shaped_noise(
    rng: np.random.Generator, n: int, lo: float, hi: float, tilt_db_oct: float = 0.0
) -> np.ndarray:
    """Stereo noise with a flat band lo..hi (FFT-shaped, so it loops seamlessly)."""
    f = np.fft.rfftfreq(n, 1 / SR)
    mag = ((f >= lo) & (f <= hi)) * (np.maximum(f, 1) / lo) ** (tilt_db_oct / 6.02)
    out = []
    for _ in range(2):
        spec = mag * np.exp(2j * np.pi * rng.uniform(size=f.size))
        x = np.fft.irfft(spec, n)
        out.append(x / np.std(x))
    return np.stack(out, axis=1)


def make_sources(root: Path) -> list[Path]:
    rng = np.random.default_rng(11)
    n = int(LOOP_S * SR)
    t = np.arange(n) / SR
    rumble = shaped_noise(rng, n, 100, 1500, -3) * (1 + 0.3 * np.sin(2 * np.pi * t / LOOP_S))[:, None]
    hiss = shaped_noise(rng, n, 2500, 10000)
    clicks = np.zeros((n, 2))
    clicks[rng.integers(0, n, 200), rng.integers(0, 2, 200)] = rng.uniform(2, 5, 200)
    paths = [root / "sounds" / "rumble.wav", root / "sounds" / "hiss.wav"]
    write_wav(paths[0], 0.08 * rumble)
    write_wav(paths[1], 0.06 * hiss + 0.05 * clicks)
    return paths


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("morph")
    sources = make_sources(root)
    t = train_morph_files(sources, root / "models" / "m.onnx", TINY, name="test/morph", progress=False)
    audio = [_decode(p) for p in sources]
    return t, sources, audio


def _decode(p: Path) -> np.ndarray:
    from middleware.engine.bank import decode_file

    return decode_file(p, SR).astype(np.float64)


def test_tiny_model_trains_small_and_onnx_equals_training_forward(tiny):
    t, _, _ = tiny
    assert t.seconds < 20.0
    assert t.card["size_bytes"] < 1_000_000 and t.model_path.stat().st_size == t.card["size_bytes"]
    z = np.random.default_rng(5).normal(0, 2, (300, TINY.latent)).astype(np.float32)
    got = session(t.model_path).run(None, {"latent": z})[0]
    ref = t.decoder.as_float32().forward(z.astype(np.float64))
    # dB values of magnitude ~10..100: float32 resolution is ~1e-5 dB; tolerance 1e-3 dB
    assert np.max(np.abs(got - ref)) <= 1e-3
    card = json.loads(t.model_path.with_suffix(".card.json").read_text())
    assert [s["file"] for s in card["sources"]] == ["rumble.wav", "hiss.wav"]
    assert card["onnx_check"]["max_abs_diff_db"] <= 1e-3


def test_endpoints_match_source_band_statistics_through_the_engine(tiny):
    """At position 0 and 1 the morph, played by the engine, has the source's band levels: per
    audible band (within 30 dB of the loudest), mean within 2 dB and spread over time within 2 dB."""
    t, sources, _ = tiny
    for pos, src in ((0.0, sources[0]), (1.0, sources[1])):
        got = {}
        for kind in ("source", "morph"):
            eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
            if kind == "source":
                eng.bank.load("x", src)
            else:
                bake_morph(eng.bank, "x", t.model_path, pos, seconds=8.0, seed=42)
            eng.play("x", loop=True, gain_db=-6.0)
            got[kind] = band_stats(
                eng.render(12 * SR)[SR:].astype(np.float64), SR, MorphModel(t.model_path).edges
            )
        (sm, ss), (gm, gs) = got["source"], got["morph"]
        aud = audible_bands(sm)
        assert aud.sum() >= 4
        assert np.max(np.abs(gm - sm)[aud]) < 2.0, (pos, np.round((gm - sm)[aud], 2))
        assert np.mean(np.abs(gm - sm)[aud]) < 1.0
        assert np.max(np.abs(gs - ss)[aud]) < 2.0, (pos, np.round(gs[aud], 2), np.round(ss[aud], 2))


def test_morph_moves_band_levels_monotonically_where_a_crossfade_sums(tiny):
    t, _, audio = tiny
    model = MorphModel(t.model_path)
    edges = model.edges
    positions = [0.0, 0.25, 0.5, 0.75, 1.0]
    morph = np.array(
        [band_stats(render_morph(model, 8.0, p, seed=7).astype(np.float64), SR, edges)[0] for p in positions]
    )
    a, b = audio
    n = min(len(a), len(b))
    xfade = np.array(
        [band_stats(np.sqrt(1 - p) * a[:n] + np.sqrt(p) * b[:n], SR, edges)[0] for p in positions]
    )
    lo, hi = morph[0], morph[-1]
    moving = (np.abs(hi - lo) > 10.0) & (np.maximum(lo, hi) > np.max(morph) - 40)
    assert moving.sum() >= 4
    sign = np.sign(hi - lo)
    steps = np.diff(morph, axis=0) * sign  # >= 0 when moving toward the far endpoint
    # judged where the band is audible (within 40 dB of the loudest band) at both positions; far
    # below that, a band's level is the analysis window's leakage from its loud neighbours
    audible = morph >= morph.max(axis=1, keepdims=True) - 40.0
    judged = audible[:-1] & audible[1:] & moving[None, :]
    assert judged.sum() >= 10
    assert np.all(steps[judged] > -1.0), np.round(np.where(judged, steps, np.nan), 2)
    # midway: the morph sits near the dB midpoint; the crossfade is dominated by the louder source
    mid_log = 0.5 * (lo + hi)
    morph_dev = np.abs(morph[2] - mid_log)[moving]
    xfade_dev = np.abs(xfade[2] - 0.5 * (xfade[0] + xfade[-1]))[moving]
    assert np.median(morph_dev) < 3.0, np.round(morph_dev, 2)
    assert np.median(xfade_dev) > 2.0 * np.median(morph_dev) + 2.0, (
        np.round(xfade_dev, 2),
        np.round(morph_dev, 2),
    )


def _envelope_autocorr(x: np.ndarray, edges: np.ndarray, audible: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised autocorrelation of the broadband band-level envelope (one value per hop)."""
    env = band_levels(x[:, 0].astype(np.float64), SR, edges)[:, audible].mean(axis=1)
    env = env - env.mean()
    n = env.size
    spec = np.fft.rfft(env, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac = ac / ac[0] / (1 - np.arange(n) / n)  # unbiased
    hop_s = (frame_size(SR) // 2) / SR
    return ac, hop_s


def test_no_loop_period_over_a_minute(tiny):
    t, _, audio = tiny
    model = MorphModel(t.model_path)
    aud = audible_bands(band_stats(audio[0], SR, model.edges)[0])
    stream = MorphStream(model, SR, seed=3)
    y = np.concatenate([stream.render(SR // 4, 0.3) for _ in range(60 * 4)])  # 60 s, live-sized calls
    ac, hop_s = _envelope_autocorr(y, model.edges, aud)
    lags = slice(int(0.5 / hop_s), int(30 / hop_s))
    assert np.max(ac[lags]) < 0.3, np.max(ac[lags])
    # the check can fail: the looped source shows its period (3.2 s) as a clear peak
    looped = np.tile(audio[0], (int(60 / LOOP_S), 1))
    ac2, _ = _envelope_autocorr(looped, model.edges, aud)
    k = int(np.argmax(ac2[lags])) + lags.start
    assert ac2[k] > 0.9 and abs(k * hop_s - LOOP_S) < 0.05


def test_stream_is_seeded_and_position_glides_without_steps(tiny):
    t, _, _ = tiny
    a = MorphStream(t.model_path, SR, seed=9)
    b = MorphStream(t.model_path, SR, seed=9)
    ya = np.concatenate([a.render(1024, p) for p in np.linspace(0, 1, 40)])
    yb = np.concatenate([b.render(1024, p) for p in np.linspace(0, 1, 40)])
    # exact: same code path (same model, seed and positions) run twice
    assert np.array_equal(ya, yb) and ya.dtype == np.float32 and ya.shape == (40 * 1024, 2)
    assert np.all(np.isfinite(ya)) and np.max(np.abs(ya)) < 1.0
    c = MorphStream(t.model_path, SR, seed=10)
    assert not np.array_equal(ya, np.concatenate([c.render(1024, p) for p in np.linspace(0, 1, 40)]))


def test_broken_morph_models_raise_model_error(tmp_path):
    with pytest.raises(ModelError, match="file not found"):
        MorphModel(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="cannot load"):
        MorphModel(bad)
    # a director model is not a morph model
    from middleware.ml.nn import MLP
    from middleware.ml.onnx_export import mlp_to_onnx

    net = MLP.init([3, 4, 2], ["tanh", "sigmoid"], np.random.default_rng(0))
    bad.write_bytes(mlp_to_onnx(net, "features", "weights", {"kind": "soundscape.director"}, "g"))
    with pytest.raises(ModelError, match="expected 'latent' -> 'band_db'"):
        MorphModel(bad)


def test_train_morph_command_on_a_scene_layer(tmp_path):
    make_sources(tmp_path)
    (tmp_path / "s.yaml").write_text(
        "name: s\nparameters:\n  intensity: {range: [0, 1], default: 0}\nemitters:\n  bed:\n    layers:\n"
        "      - id: tex\n        source: {morph: [sounds/rumble.wav, sounds/hiss.wav], param: intensity,"
        " model: models/tex.onnx}\n"
    )
    args = argparse.Namespace(
        what="morph",
        scene=str(tmp_path / "s.yaml"),
        layer="bed.tex",
        out=None,
        seed=0,
        steps=150,
        hidden=8,
        no_loo=False,
        quiet=True,
        force=False,
        use=False,
    )
    assert train_cmd.run(args) == 0
    card = json.loads((tmp_path / "models" / "tex.card.json").read_text())
    assert card["model"] == "s/bed.tex" and card["param"] == "intensity" and card["version"] == 1
    args.layer = "bed.nope"
    with pytest.raises(ModelError, match="not found"):
        train_cmd.run(args)
