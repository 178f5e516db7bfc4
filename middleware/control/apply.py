"""Apply a validated protocol request to a scene runtime: the one mapping from messages to actions.

Used by the offline renderer (events files) and the daemon's audio side, so a message means the
same thing whether it arrives over ZeroMQ or from a timeline file. Every message of the protocol
has a meaning here; the ones about the connection (``hello``, ``stats``, ``sync``) answer from the
runtime and change nothing, so an events file may carry any message a game sends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..scene.runtime import RuntimeErrorMsg, SceneRuntime
from ..transport.protocol import Request

RUNTIME_METHODS: dict[str, tuple[str, ...]] = {
    "hello": ("describe",),
    "set_param": ("set_param",),
    "set_state": ("set_state",),
    "set_switch": ("set_switch",),
    "trigger": ("trigger",),
    "stop": ("stop",),
    "listener": ("set_listener",),
    "object": ("set_object",),
    "snapshot": ("snapshot",),
    "load_scene": ("reload", "describe"),
    "stats": ("telemetry",),
    "batch": (),  # its items' methods
    "sync": (),  # a barrier the daemon answers itself
    "say": ("say", "prepare_line", "play_line"),  # the daemon renders off the render thread
    "stinger": ("stinger",),
    "set_weight": ("override",),
    "profile": ("set_player_gains",),  # and the engine's master slot (accessibility.host)
}
"""The runtime methods each protocol message needs, for every runtime a daemon or renderer drives
(``SceneRuntime``, the daemon's ``RecordingRuntime``). A conformance test checks that this covers
every message of ``transport.protocol.MESSAGES`` and that every runtime has these methods, so a new
message cannot reach a runtime that lacks it (which the daemon would report as an internal error)."""


def apply_request(rt: SceneRuntime, req: Request, at_frame: int | None = None) -> Any:
    """Perform ``req`` on ``rt`` (at ``at_frame`` when given); returns the reply's result, if any."""
    if req.name == "batch":
        return [apply_request(rt, item, at_frame) for item in req.items or ()]
    return apply_message(rt, req.name, req.fields, at_frame)


def apply_message(rt: SceneRuntime, name: str, f: dict[str, Any], at_frame: int | None = None) -> Any:
    """Perform one validated message given by name and fields (what the daemon's audio side receives)."""
    if name == "set_param":
        rt.set_param(f["name"], f["value"], at_frame=at_frame)
    elif name == "set_state":
        rt.set_state(f["group"], f["value"], at_frame=at_frame)
    elif name == "set_switch":
        rt.set_switch(f["group"], f["value"], object=f.get("object"), at_frame=at_frame)
    elif name == "trigger":
        iid = rt.trigger(
            f["event"],
            position=f.get("position"),
            params=f.get("params"),
            object=f.get("object"),
            switches=f.get("switches"),
            at_frame=at_frame,
        )
        return {"instance": iid}
    elif name == "stop":
        rt.stop(f["instance"], release=f.get("release", True), at_frame=at_frame)
    elif name == "listener":
        kw = {k: f[k] for k in ("forward", "up", "velocity") if f.get(k) is not None}
        rt.set_listener(f["position"], at_frame=at_frame, **kw)
    elif name == "object":
        rt.set_object(
            f["name"], f["position"], forward=f.get("forward"), velocity=f.get("velocity"), at_frame=at_frame
        )
    elif name == "say":
        return rt.say(
            f["text"],
            f.get("preset", "neutral"),
            emitter=f.get("emitter"),
            position=f.get("position"),
            at_frame=at_frame,
        )
    elif name == "stinger":
        rt.stinger(f["name"], at_frame=at_frame)
    elif name == "profile":  # offline: applied at once (a render applies its timeline between blocks)
        from ..accessibility.host import apply_player_profile, hearing_of
        from ..accessibility.profile import profile_from_dict

        apply_player_profile(rt.engine, rt, profile_from_dict(f), hearing_of(rt.engine))
    elif name == "set_weight":
        rt.override(f["layer"], f.get("weight"), at_frame=at_frame)
    elif name == "snapshot":
        rt.snapshot(f["name"], f["on"], at_frame=at_frame)
    elif name == "hello":
        return {"scene": rt.describe()}
    elif name == "stats":
        return {"stats": {"scene": rt.telemetry()}}
    elif name == "sync":
        return {}  # requests are applied in order as they come: nothing earlier is outstanding
    elif name == "load_scene":
        rt.reload(_scene_beside(rt, f["path"]))
        return {}
    else:
        raise ValueError(f"apply_message: {name!r} is not a message the scene runtime performs")
    return None


def _scene_beside(rt: Any, path: str) -> Any:
    """Load ``path`` from the folder of the runtime's current scene (never outside it), like the
    daemon's ``load_scene``; the slow part (``reload`` runs ``prepare``) is the caller's thread's."""
    from ..scene.load import load_scene

    scene = getattr(rt, "scene", None)
    if scene is None:
        raise RuntimeErrorMsg(f"load_scene path={path!r}: this runtime has no scene folder")
    folder = Path(scene.file).resolve().parent
    target = (folder / path).resolve()
    if not target.is_relative_to(folder) or target.suffix.lower() not in (".yaml", ".yml"):
        raise RuntimeErrorMsg(f"load_scene path={path!r}: must be a .yaml file inside the scene folder")
    return load_scene(target)
