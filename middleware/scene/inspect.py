"""A read-only picture of a running scene: where everything is and which voices it plays.

The studio's 3D view (the anchor is Wwise's Game Object 3D Viewer) and its voice list need poses
and voices that the runtime's ``telemetry()`` does not carry. ``world(rt)`` builds them from the
runtime's *public* attributes only (``listener``, ``objects``, ``emitters``, ``instances``) and the
engine's public ``voice_info``, so it works on any runtime shape (the daemon's recording runtime has
none of them and gets empty lists) and never changes what it reads.

It runs where the daemon builds its ``scene`` telemetry, i.e. on the render thread, about 23 times
a second: the work is bounded (at most ``MAX_ITEMS`` of each kind, counted beyond that) and plain
(the runtime's own position tuples, no numpy, no I/O).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

MAX_ITEMS = 64
"""Objects, emitters, instances and voices listed at most (each); the totals say how many there were.
A game may move thousands of objects; the view needs the ones near the action, and the render
thread must not pay for a thousand."""

DIGITS = 4  # gains to 1e-4 (-80 dB): finer than a page draws


def _vec(v: Any) -> Any:
    """A position as it is (the runtime keeps them as tuples of floats, replaced, never mutated, so
    they can be handed to another thread as they are); anything else becomes a list of floats."""
    if v is None:
        return None
    if type(v) is tuple and type(v[0]) is float and type(v[1]) is float and type(v[2]) is float:
        return v  # not numpy scalars either: msgpack must pack it on the sender's thread
    return [float(v[0]), float(v[1]), float(v[2])]


def _att(att: Any) -> tuple[float | None, float | None]:
    if att is None:
        return None, None
    return float(att.min_distance), float(att.max_distance)


def _voice(info: Mapping[str, Any] | None, owner: str, kind: str) -> dict[str, Any] | None:
    if info is None:
        return None
    gl, gr = float(info["gain_left"]), float(info["gain_right"])
    return {
        "owner": owner,
        "kind": kind,
        "state": "virtual" if info["state"] == "virtual" else "real",
        "gain": round(max(gl, gr), DIGITS),  # the louder side: what the designer hears of it
        "gain_left": round(gl, DIGITS),
        "gain_right": round(gr, DIGITS),
    }


def world(rt: Any, ids: Mapping[int, int] | None = None) -> dict[str, Any]:
    """Listener pose, game objects, emitters, event instances (positions, min/max distance) and the
    voices they play (real or virtual, gain), as plain lists and maps ready for msgpack/JSON.

    ``ids`` maps the runtime's instance ids to the ids its clients know (the daemon's own numbering);
    instances are reported under the client's id when there is one.

    A view must never cost the telemetry it rides in: if the runtime's shape ever stops matching
    what this reads, the answer is ``{"error": ...}`` (the page shows it) and the rest of the
    ``scene`` payload still goes out.
    """
    try:
        return _world(rt, ids)
    except Exception as exc:  # a view's bug, never the game's: say it, keep the telemetry
        return {"error": f"scene.inspect.world: {type(exc).__name__}: {exc}"}


def _world(rt: Any, ids: Mapping[int, int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    listener = getattr(rt, "listener", None)
    out["listener"] = None
    if listener is not None:
        out["listener"] = {"position": _vec(listener.position), "forward": _vec(listener.forward)}
    objects = getattr(rt, "objects", None) or {}
    out["objects"] = [
        {"name": name, "position": _vec(o.position), "forward": _vec(o.forward)}
        for name, o in itertools.islice(objects.items(), MAX_ITEMS)
    ]
    out["objects_total"] = len(objects)

    engine = getattr(rt, "engine", None)
    info = getattr(engine, "voice_info", None)
    voices: list[dict[str, Any]] = []
    voices_total = 0

    def add_voice(handle: int | None, owner: str, kind: str) -> None:
        nonlocal voices_total
        if handle is None or info is None:
            return
        voices_total += 1
        if len(voices) < MAX_ITEMS:
            v = _voice(info(handle), owner, kind)
            if v is not None:
                voices.append(v)
            else:
                voices_total -= 1  # ended since the runtime last looked: not a voice any more

    emitters = getattr(rt, "emitters", None) or {}
    em_list = []
    for name, em in emitters.items():
        d = em.emitter
        lo, hi = _att(getattr(d, "attenuation", None))
        playing = False
        for li in em.layers.values():
            if li.handle is not None:  # a loop, or the last one-shot of a scatter layer
                playing = True
                add_voice(li.handle, li.layer.uid, "emitter")
        if len(em_list) < MAX_ITEMS:
            em_list.append(
                {
                    "name": name,
                    "position": _vec(em.position),
                    "follows": d.follows,
                    "min": lo,
                    "max": hi,
                    "playing": playing,
                }
            )
    out["emitters"] = em_list
    out["emitters_total"] = len(emitters)

    instances = getattr(rt, "instances", None) or {}
    where = getattr(rt, "instance_position", None)  # an object follower is where its object is
    # Thousands of instances (a swarm): once both lists are full, the rest is counted, not walked
    # (this runs on the render thread every few blocks).
    count_voices = getattr(rt, "instance_voice_count", None)
    inst_list = []
    seen = 0  # instance voices walked so far
    for riid, inst in instances.items():
        if count_voices is not None and len(inst_list) >= MAX_ITEMS and len(voices) >= MAX_ITEMS:
            voices_total += max(0, count_voices() - seen)
            break
        ev = inst.event
        iid = ids.get(riid, riid) if ids is not None else riid
        owner = f"{ev.name}#{iid}"
        for li in inst.layers.values():
            if li.handle is not None and li.handle in inst.handles:
                seen += 1
                add_voice(li.handle, f"{owner} {li.layer.id}", "event")
        if len(inst_list) < MAX_ITEMS:
            lo, hi = _att(getattr(ev, "attenuation", None))
            inst_list.append(
                {
                    "instance": iid,
                    "event": ev.name,
                    "position": _vec(inst.position if where is None else where(inst)),
                    "follows": inst.follows,
                    "min": lo,
                    "max": hi,
                }
            )
    out["instances"] = inst_list
    out["instances_total"] = len(instances)
    out["voices"] = voices
    out["voices_total"] = voices_total
    return out


def summary(w: Mapping[str, Any]) -> str:
    """``world``'s payload in one line, for text tools (``soundscape stats``): where the listener is
    and how many of each thing there are, not the lists themselves."""
    if "error" in w:
        return str(w["error"])
    parts = []
    listener = w.get("listener")
    if listener and listener.get("position") is not None:
        pos = ", ".join(f"{float(x):g}" for x in listener["position"])
        fwd = ", ".join(f"{float(x):g}" for x in listener.get("forward") or ())
        parts.append(f"listener ({pos}) facing ({fwd})")
    counts = [f"{w.get(k + '_total', len(w.get(k) or ()))} {k}" for k in ("emitters", "objects", "instances")]
    parts.append(", ".join(counts))
    voices = w.get("voices") or []
    real = sum(1 for v in voices if v.get("state") == "real")
    listed = f" ({len(voices)} listed)" if w.get("voices_total", len(voices)) > len(voices) else ""
    parts.append(f"voices {real} real, {len(voices) - real} virtual{listed}")
    return "; ".join(parts)


__all__ = ["MAX_ITEMS", "summary", "world"]
