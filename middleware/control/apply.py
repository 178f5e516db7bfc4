"""Apply a validated protocol request to a scene runtime: the one mapping from messages to actions.

Used by the offline renderer (events files) and the daemon's audio side, so a message means the
same thing whether it arrives over ZeroMQ or from a timeline file.
"""

from __future__ import annotations

from typing import Any

from ..scene.runtime import SceneRuntime
from ..transport.protocol import Request


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
    elif name == "snapshot":
        rt.snapshot(f["name"], f["on"], at_frame=at_frame)
    else:
        raise ValueError(f"apply_message: {name!r} is not a message the scene runtime performs")
    return None
