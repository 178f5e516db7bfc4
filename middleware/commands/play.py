"""``soundscape play``: hear a scene on the sound device without a game, with hot reload on.

The designer's edit-and-listen loop: ``--set``/``--state`` fix game values, ``--sweep`` moves a
parameter over time, and saving the YAML swaps the new version in while it plays (errors are
printed and the old version keeps playing).
"""

from __future__ import annotations

import argparse
import re
import sys
import time

from ._common import UsageError, add_profile_option

NAME = "play"
HELP = "play a scene on the sound device (NULL device if none) with live hot reload"

_SWEEP = re.compile(r"^([A-Za-z_][\w.]*)=(-?[\d.]+):(-?[\d.]+):([\d.]+)s?$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scene", help="scene YAML file")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE", help="set a parameter")
    p.add_argument("--state", action="append", default=[], metavar="GROUP=VALUE", help="set a state")
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="PARAM=FROM:TO:SECONDSs",
        help="move a parameter linearly, e.g. intensity=0:1:30s",
    )
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default: until Ctrl-C)")
    p.add_argument("--device", default=None, help="playback device name (default: system default)")
    p.add_argument("--backend", default=None, help="miniaudio backend (e.g. alsa, pulseaudio, null)")
    p.add_argument("--no-reload", action="store_true", help="do not watch the file for edits")
    add_profile_option(p, "applied from the first block")
    p.add_argument("--quiet", action="store_true", help="no status line")
    p.add_argument(
        "--teach",
        action="store_true",
        help="record live layer overrides as director examples in <scene>.teach.jsonl",
    )


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if "=" not in item:
            raise UsageError(f"--{what} {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out.append((k.strip(), v.strip()))
    return out


def run(args: argparse.Namespace) -> int:
    from ..player import ScenePlayer
    from ..rt import guard
    from ..rt.worker import Worker
    from ..scene.reload import SceneWatcher
    from ..sinks.device import DeviceSink

    player = ScenePlayer(args.scene)
    rt = player.runtime
    # Real time, as in the daemon: the director's inference and the building of generator and morph
    # streams run on this worker, never on the device's render thread (rt/worker.py).
    rt.background = worker = Worker("soundscape-worker")
    if args.profile is not None:
        from ..accessibility.host import apply_player_profile
        from ..accessibility.profile import load_profile

        apply_player_profile(player.engine, rt, load_profile(args.profile))
    for k, v in _pairs(args.set, "set"):
        try:
            rt.set_param(k, float(v))
        except ValueError:
            raise UsageError(f"--set {k}={v}: value must be a number") from None
    for k, v in _pairs(args.state, "state"):
        rt.set_state(k, v)
    sweeps = []
    for s in args.sweep:
        m = _SWEEP.match(s)
        if not m:
            raise UsageError(f"--sweep {s!r}: expected PARAM=FROM:TO:SECONDSs, e.g. intensity=0:1:30s")
        name, a, b, secs = m.group(1), float(m.group(2)), float(m.group(3)), float(m.group(4))
        rt.set_param(name, a)  # validates name and range now
        rt.set_param(name, b)
        sweeps.append((name, a, b, max(secs, 1e-3)))

    def on_errors(issues: list) -> None:
        print(
            f"\nreload rejected, still playing the previous version ({len(issues)} problems):",
            file=sys.stderr,
        )
        for issue in issues:
            print(issue.format(), file=sys.stderr)

    def on_scene(scene) -> None:
        player.reload(scene)
        print(f"\nreloaded {args.scene}", file=sys.stderr)

    recorder = None
    if args.teach:
        from ..ml.examples import TeachRecorder

        recorder = TeachRecorder.for_scene(player.scene)
        rt.on_override = recorder.record
    watcher = None
    if not args.no_reload:
        watcher = SceneWatcher(args.scene, on_scene=on_scene, on_errors=on_errors, scene=player.scene).start()
    sink = DeviceSink(player, device_name=args.device, backend=args.backend)
    sink.start()
    t0 = time.monotonic()
    try:
        while True:
            now = time.monotonic() - t0
            for name, a, b, secs in sweeps:
                u = min(now / secs, 1.0)
                rt.set_param(name, a + (b - a) * u)
            if not args.quiet:
                st = sink.stats()
                env = ", ".join(
                    f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in rt.env.items()
                )
                print(
                    f"\r{now:6.1f}s  {env}  voices {player.engine.stats()['voices_real']}  "
                    f"underruns {st.get('underruns', 0)}   ",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
            if args.seconds and now >= args.seconds:
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
        worker.close()
        if guard.enabled():  # SOUNDSCAPE_RT_GUARD: what the render thread should not have done
            guard.report()
        if watcher:
            watcher.stop()
        if recorder is not None:
            recorder.close()
        if not args.quiet:
            print(file=sys.stderr)
    return 0
