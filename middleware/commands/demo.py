"""``soundscape demo``: the built-in default scene driven through its scripted situations.

Plays ``scenes/forest.yaml`` in real time on the sound card (miniaudio's NULL device when there is
none), applying the scene's events timeline as a game would, and writes what was played to
``out/demo.wav`` so a machine without speakers still shows the result.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from pathlib import Path

NAME = "demo"
HELP = "play the built-in default scene through its scripted situations (writes out/demo.wav)"

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCENE = ROOT / "scenes" / "forest.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scene", default=str(DEFAULT_SCENE), help="scene YAML (default: scenes/forest.yaml)")
    p.add_argument("--events", default=None, help="events timeline (default: <scene>.events.jsonl beside it)")
    p.add_argument("--seconds", type=float, default=20.0, help="how long to play (default 20)")
    p.add_argument("--out", default="out/demo.wav", help="WAV copy of what was played (default out/demo.wav)")
    p.add_argument("--backend", default=None, help="miniaudio backend (default: the system's, NULL if none)")
    p.add_argument("--device", default=None, help="playback device name")


def run(args: argparse.Namespace) -> int:
    from ..control.apply import apply_request
    from ..errors import SoundscapeError
    from ..offline import load_timeline
    from ..player import ScenePlayer
    from ..sinks.device import DeviceSink
    from ..sinks.wav import WavSink

    try:
        from ..tools.example_assets import ensure_example_assets

        ensure_example_assets()
    except ImportError:
        pass
    scene = Path(args.scene)
    events = Path(args.events) if args.events else scene.with_suffix(".events.jsonl")
    player = ScenePlayer(scene)
    sr = player.config.sample_rate
    timeline = load_timeline(events, sr) if events.exists() else []
    captured: deque = deque()

    def on_block(start: int, block) -> None:  # render thread: copy only, no disk I/O here
        captured.append(block.copy())

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sink = DeviceSink(player, device_name=args.device, backend=args.backend, on_block=on_block)
    meta = {"scene": player.scene.name, "seed": player.config.seed, "generated_by": [], "mode": "demo"}
    print(f"demo: playing {scene} for {args.seconds:.0f} s ({len(timeline)} scripted events)", flush=True)
    k = 0
    with WavSink(out, sr, 2, metadata=meta) as wav:
        sink.start()
        print(f"demo: audio backend {sink.backend_name}", flush=True)
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < args.seconds:
                now_frame = int((time.monotonic() - t0) * sr)
                while k < len(timeline) and timeline[k].frame <= now_frame:
                    try:
                        apply_request(player.runtime, timeline[k].request)
                    except SoundscapeError as exc:
                        print(f"demo: event line {timeline[k].line}: {exc}", file=sys.stderr)
                    k += 1
                while captured:
                    wav.write(captured.popleft())
                time.sleep(0.02)
        except KeyboardInterrupt:
            pass
        finally:
            sink.stop()
            while captured:
                wav.write(captured.popleft())
    st = sink.stats()
    es = player.engine.stats()
    print(
        f"demo: wrote {out} ({wav.frames / sr:.1f} s); underruns {st.get('underruns')}, "
        f"callback interval p99 {st.get('callback_interval_p99_ms', 0):.1f} ms, "
        f"render p99 {es['render_ms_p99']:.2f} ms, "
        f"voices started {es['voices_started']}"
    )
    return 0
