"""Player profiles (issue 17, part 1): loading, validation with what-and-where errors, the prescriptions.

The prescription references are worked by hand from the published formulas (Byrne & Dillon 1986's NAL-R
table; the half-gain rule), not by calling the code under test.
"""

from __future__ import annotations

import json

import msgpack
import numpy as np
import pytest

from middleware.accessibility.prescription import (
    AUDIOGRAM_HZ,
    MAX_GAIN_CAP_DB,
    NALR_K_PUBLISHED,
    half_gain,
    nal_r,
    prescribe,
)
from middleware.accessibility.profile import (
    BUS_ROLES,
    DYNAMIC_MODES,
    FIELDS,
    HearingProfile,
    ProfileError,
    load_profile,
    profile_from_dict,
)

GRANDAD = {
    "name": "grandad",
    "audiogram": {
        "left": [15, 20, 30, 45, 60, 70],
        "right": {250: 10, 500: 15, 1000: 25, 2000: 40, 4000: 55, 8000: 65},
    },
    "prescription": "half-gain",
    "max_gain_db": 25,
    "mono": True,
    "dynamic_range": "night",
    "volume_db": {"dialogue": 3, "music": -6},
    "dialogue_boost_db": 6,
}


def test_defaults_come_from_the_field_table() -> None:
    p = HearingProfile()
    for f in FIELDS:
        assert getattr(p, f.name) == f.default, f.name
    assert p.audiogram is None  # no audiogram: no compensation EQ
    assert dict(p.volume_db) == {r: 0.0 for r in BUS_ROLES}
    assert profile_from_dict({}) == p


def test_a_full_profile_loads_from_a_map_and_survives_msgpack() -> None:
    p = profile_from_dict(GRANDAD)
    assert p.audiogram is not None
    assert p.audiogram["left"] == (15, 20, 30, 45, 60, 70)
    assert p.audiogram["right"] == (10, 15, 25, 40, 55, 65)
    assert p.mono and p.dynamic_range == "night" and p.prescription == "half-gain"
    assert dict(p.volume_db) == {"dialogue": 3.0, "music": -6.0, "effects": 0.0, "ambience": 0.0}
    # the future protocol message: msgpack round trip (string keys, as the wire gives them)
    wire = msgpack.unpackb(msgpack.packb(p.to_dict()), strict_map_key=False)
    assert profile_from_dict(wire) == p
    # JSON gives string frequency keys
    right = {str(k): v for k, v in GRANDAD["audiogram"]["right"].items()}
    assert profile_from_dict({**GRANDAD, "audiogram": {**GRANDAD["audiogram"], "right": right}}) == p


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ({"dynamic_range": "nite"}, "dynamic_range", "did you mean 'night'"),
        ({"mono": "yes"}, "mono", "true or false"),
        ({"max_gain_db": 40}, "max_gain_db", f"0..{MAX_GAIN_CAP_DB:g}"),
        ({"volume_db": {"speech": 0}}, "volume_db.speech", "groups"),
        ({"volume_db": {"music": float("nan")}}, "volume_db.music", "number"),
        ({"audiogram": {"left": [10] * 5, "right": [10] * 6}}, "audiogram.left", "needs 6"),
        ({"audiogram": {"left": [10] * 6}}, "audiogram", "right"),
        (
            {"audiogram": {"left": [10] * 6, "right": [10, 10, 10, 10, 130, 10]}},
            "audiogram.right.4000",
            "-10..120",
        ),
        (
            {"audiogram": {"left": {250: 1, 500: 1, 1000: 1, 2000: 1, 4000: 1, 3000: 1}, "right": [0] * 6}},
            "audiogram.left.3000",
            "not one of",
        ),
        ({"prescription": "nal-nl2"}, "prescription", "nal-r"),
        ({"loudness": 3}, "loudness", "unknown field"),
    ],
)
def test_bad_values_say_what_and_where(change: dict, where: str, words: str) -> None:
    with pytest.raises(ProfileError) as err:
        profile_from_dict({**GRANDAD, **change}, where="profile")
    assert err.value.where == f"profile.{where}"
    assert words in str(err.value)


def test_files_load_with_safe_yaml_and_json_and_errors_carry_file_line_col(tmp_path) -> None:
    y = tmp_path / "p.yaml"
    y.write_text(
        "name: grandad\naudiogram:\n  left: [15, 20, 30, 45, 60, 70]\n  right: [10, 15, 25, 40, 55, 65]\n"
        "dynamic_range: night\n",
        encoding="utf-8",
    )
    assert load_profile(y).dynamic_range == "night"
    j = tmp_path / "p.json"
    j.write_text(json.dumps(GRANDAD, indent=1), encoding="utf-8")
    assert load_profile(j) == profile_from_dict(GRANDAD)

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\naudiogram:\n  left: [15, 20, 30, 45, 60, 70]\n  right: [10, 15, 25, 140, 55, 65]\n"
    )
    with pytest.raises(ProfileError) as err:
        load_profile(bad)
    assert f"{bad}:4:23: audiogram.right.2000" in str(err.value)  # line 4 col 23: the 140
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ProfileError, match=r"unsafe.yaml:1:7"):
        load_profile(unsafe)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.yaml")


def test_nal_r_matches_the_published_formula_worked_by_hand() -> None:
    # flat 40 dB HL: H3FA = 40, X = 0.15 * 40 = 6, IG = 6 + 0.31 * 40 + k = 18.4 + k
    flat = nal_r(AUDIOGRAM_HZ, [40] * 6)
    k = [NALR_K_PUBLISHED[f] for f in (250, 500, 1000, 2000, 4000)] + [-2.0]
    np.testing.assert_allclose(flat, [18.4 + kk for kk in k], atol=1e-9)
    # a sloping loss: H = 15 20 30 45 60 70; H3FA = 95/3; X = 4.75
    slope = nal_r(AUDIOGRAM_HZ, [15, 20, 30, 45, 60, 70])
    want = [
        4.75 + 0.31 * h + kk for h, kk in zip([15, 20, 30, 45, 60, 70], [-17, -8, 1, -1, -2, -2], strict=True)
    ]
    np.testing.assert_allclose(slope, want, atol=1e-9)
    # the published table, not a guess: 3 kHz and 6 kHz constants are there too
    assert dict(NALR_K_PUBLISHED) == {
        250: -17,
        500: -8,
        1000: 1,
        1500: 1,
        2000: -1,
        3000: -2,
        4000: -2,
        6000: -2,
    }


def test_half_gain_and_the_cap_and_the_floor() -> None:
    np.testing.assert_allclose(half_gain(AUDIOGRAM_HZ, [10, 20, 30, 40, 50, 80]), [5, 10, 15, 20, 25, 40])
    g = prescribe("half-gain", [10, 20, 30, 40, 50, 80], cap_db=22.0)
    np.testing.assert_allclose(g, [5, 10, 15, 20, 22, 22])
    assert prescribe("half-gain", [110] * 6, cap_db=99.0).max() == MAX_GAIN_CAP_DB  # never above the cap
    # near-normal hearing: NAL-R's bass cut (-17 dB at 250 Hz) is clipped to 0, never a cut
    g = prescribe("nal-r", [0, 0, 0, 0, 0, 0])
    assert g.min() == 0.0 and g.max() == pytest.approx(1.0)  # +1 dB at 1 kHz is the published k
    with pytest.raises(ValueError, match="500"):
        nal_r([250, 4000], [10, 10])


def test_every_dynamic_mode_declares_its_target() -> None:
    assert DYNAMIC_MODES["full"].lra_lu is None
    targets = [DYNAMIC_MODES[m].lra_lu for m in ("home", "headphones", "night")]
    assert targets == sorted(targets, reverse=True)  # each mode is narrower than the one before


def test_the_docs_name_every_field_range_and_mode() -> None:
    """docs/accessibility.md agrees with the declarations: each field with its default and range, each
    dynamic-range mode with its target."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs/accessibility.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in doc.splitlines() if line.startswith("| `")}
    for f in FIELDS:
        assert f.name in rows, f.name
        if f.kind == "number":
            assert f"{f.lo:g}..{f.hi:g}" in rows[f.name], f.name
            assert f"| {f.default:g} |" in rows[f.name], f.name
        if f.kind == "choice":
            assert all(f"`{c}`" in rows[f.name] for c in f.choices), f.name
    for name, mode in DYNAMIC_MODES.items():
        target = "off" if mode.lra_lu is None else f"{mode.lra_lu:g} LU"
        assert f"| `{name}` | {target} |" in doc, name
