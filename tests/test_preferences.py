"""Player preferences as director inputs (issue 17, part 3).

A profile's ``preferences`` (amounts 0..1) set the scene's ``player_<name>`` parameters; the forest
scene's director reads ``player_ambience`` and ``player_startle`` and was trained on examples that
include them (scenes/forest/director.examples.jsonl). The model is the one shipped with the scene,
produced by our own trainer (``soundscape train director scenes/forest.yaml``; its card,
scenes/forest/models/director.card.json, holds the examples' hash, which a test in test_ml_director.py
checks), run by a real onnxruntime session. The designer's constraints apply after the model.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from middleware.accessibility.host import apply_player_profile, preference_params
from middleware.accessibility.profile import PREFERENCES, ProfileError, profile_from_dict
from middleware.config import EngineConfig
from middleware.ml.train_director import DirectorConfig, leave_one_out
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene, load_scene_text
from middleware.tools.example_assets import default_scenes_dir, ensure_example_assets

SR = 48000
SPARSE = {"name": "sparse and calm", "preferences": {"ambience": 0.1, "startle": 0.9}}
RICH = {"name": "rich and bold", "preferences": {"ambience": 0.9, "startle": 0.1}}
SITUATION = {"weather": "storm", "intensity": 0.6, "time_of_day": 16.0}
BEDS = ("weather_bed.rain", "weather_bed.downpour", "weather_bed.wind")


def test_preferences_are_checked_and_map_onto_the_scenes_parameters() -> None:
    p = profile_from_dict(SPARSE)
    assert dict(p.preferences) == {"ambience": 0.1, "startle": 0.9}
    assert profile_from_dict(p.to_dict()) == p
    with pytest.raises(
        ProfileError, match=r"preferences\.ambiance: unknown preference .*did you mean 'ambience'"
    ):
        profile_from_dict({"preferences": {"ambiance": 0.5}})
    with pytest.raises(ProfileError, match=r"preferences\.startle: 2 is outside 0\.\.1"):
        profile_from_dict({"preferences": {"startle": 2}})
    scene = load_scene(default_scenes_dir() / "forest.yaml", check_assets=False)
    # the forest declares two of the three; a missing preference takes the scene's default back
    assert preference_params(p, scene) == {"player_ambience": 0.1, "player_startle": 0.9}
    assert preference_params(profile_from_dict({}), scene) == {"player_ambience": 0.5, "player_startle": 0.5}
    assert {x.name for x in PREFERENCES} == {"ambience", "music", "startle"}


def _forest(extra_constraints: str = "") -> ScenePlayer:
    ensure_example_assets()
    root = default_scenes_dir()
    text = (root / "forest.yaml").read_text(encoding="utf-8")
    if extra_constraints:
        anchor = "    weather_bed.wind: {min: 0.1}\n"
        assert anchor in text
        text = text.replace(anchor, anchor + extra_constraints)
    scene = load_scene_text(text, file=str(root / "forest.yaml"), scene_dir=root)
    player = ScenePlayer(scene, EngineConfig(block=512, max_voices=64, voice_limit=64), seed=11)
    player.engine.enable_meters(["weather"])
    for k, v in SITUATION.items():
        (player.runtime.set_state if isinstance(v, str) else player.runtime.set_param)(k, v)
    return player


def _settle(player: ScenePlayer, profile: dict, fx=None):
    """Apply the profile, let the director (20 Hz, 0.15 s glide) and the 3 s loudness window settle."""
    fx = apply_player_profile(player.engine, player.runtime, profile_from_dict(profile), fx)
    player.render(4 * SR)
    weights = dict(player.runtime.director_weights)
    lufs = player.engine.loudness()["weather"]["short_term_lufs"]
    return fx, weights, lufs


def test_two_profiles_give_different_forest_mixes_in_the_same_situation() -> None:
    player = _forest()
    assert player.runtime.director is not None, "the forest's director model did not load"
    fx, sparse, sparse_lufs = _settle(player, SPARSE)
    _, rich, rich_lufs = _settle(player, RICH, fx)  # switched live, the game state unchanged
    print(f"sparse {sparse} {sparse_lufs:.1f} LUFS; rich {rich} {rich_lufs:.1f} LUFS")
    # The examples teach: ambience 0 roughly halves the beds, 1 fills them; startle 1 -> thunder ~0.25.
    for uid in BEDS:
        assert rich[uid] - sparse[uid] > 0.2, uid
    assert rich["sky.thunder"] > 0.9 and sparse["sky.thunder"] < 0.5
    # ... and it is heard: the weather bus is measurably louder for the player who wants it rich
    # (BS.1770 short-term loudness of the bus; a 0.2 weight step is 2-6 dB on one layer).
    assert math.isfinite(sparse_lufs) and rich_lufs - sparse_lufs > 3.0
    assert player.runtime.director_inputs["player_ambience"] == pytest.approx(0.9)


def test_a_designers_lock_wins_over_both_profiles() -> None:
    """Locks on a bed and on the thunder: whichever the profile, those weights are the lock's; the
    unlocked beds still follow the preference (the model did run)."""
    player = _forest("    weather_bed.downpour: {lock: 0.6}\n    sky.thunder: {lock: 0.8}\n")
    fx, sparse, _ = _settle(player, SPARSE)
    _, rich, _ = _settle(player, RICH, fx)
    for w in (sparse, rich):
        assert w["weather_bed.downpour"] == 0.6 and w["sky.thunder"] == 0.8  # the lock, exactly
    assert rich["weather_bed.wind"] - sparse["weather_bed.wind"] > 0.2
    # clamps, too: the forest's own min 0.1 on the wind holds under the sparsest profile
    _, sparsest, _ = _settle(player, {"preferences": {"ambience": 0.0, "startle": 1.0}}, fx)
    assert sparsest["weather_bed.wind"] >= 0.1


def test_leave_one_out_survives_two_examples_at_the_same_inputs() -> None:
    """Preference examples share a situation with authored ones (teaching another layer there): the
    inverse-distance baseline met a zero distance with several outputs and raised ValueError."""
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.5, 0.0]])
    Y = np.array([[0.2, 0.0], [0.0, 0.9], [0.8, 0.1], [0.5, 0.5]])
    M = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    res = leave_one_out(X, Y, M, DirectorConfig(hidden=(4,), steps=20))
    assert np.isfinite(res.mae("idw")) and np.isfinite(res.mae("model"))


def test_the_docs_say_what_each_preference_does_and_for_whom() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "accessibility.md").read_text(encoding="utf-8")
    for p in PREFERENCES:
        assert f"| `preferences.{p.name}` | {p.doc} | {p.for_whom} |" in doc, p.name
        assert f"`player_{p.name}`" in doc, p.name
