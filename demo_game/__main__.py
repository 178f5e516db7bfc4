"""``python -m demo_game``: the demo game, played with the keyboard or by the autoplay bot.

    python -m demo_game --autoplay              # starts a daemon (NULL device if no sound card),
                                                # plays the script, writes out/demo.wav + out/demo.png
    python -m demo_game                         # keyboard play in the terminal (curses)
    python -m demo_game --connect tcp://127.0.0.1:5570   # use a daemon that already runs
    python -m demo_game --autoplay --profile scenes/profiles/night.yaml   # a player profile

Watch it live from another terminal with ``soundscape monitor --connect <pub endpoint>`` (printed at
start). The game talks to the daemon through the public client only (``middleware.client``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .assets import DEMO_SCENE, ensure_demo_assets


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m demo_game", description=__doc__.split("\n")[0])
    p.add_argument("--autoplay", action="store_true", help="let the bot play the scripted walk-through")
    p.add_argument("--scene", default=str(DEMO_SCENE), help="scene (default: scenes/demo.yaml)")
    p.add_argument(
        "--connect", metavar="ENDPOINT", help="command socket of a running daemon (default: start one)"
    )
    p.add_argument("--pub", metavar="ENDPOINT", help="its telemetry socket (with --connect; for errors)")
    p.add_argument("--backend", help="miniaudio backend of the started daemon, e.g. null (default: auto)")
    p.add_argument(
        "--no-daemon", action="store_true", help="no daemon: record the session (autoplay also renders it)"
    )
    p.add_argument("--scale", type=float, default=1.0, help="autoplay: stretch the script (default 1 = 63 s)")
    p.add_argument("--out", default="out", help="folder for demo.wav, demo.png and friends (default out/)")
    p.add_argument("--no-render", action="store_true", help="skip the offline render and the picture")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="autoplay: print only the summary")
    from middleware.commands._common import add_profile_option

    add_profile_option(p, "applied by the daemon and the offline render (keyboard: p cycles profiles)")
    return p.parse_args(argv)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, flush=True)


def connect(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(client, subscriber, daemon-or-None) per the options; (None, None, None) with --no-daemon."""
    from middleware.client import Client, Subscriber

    from .session import spawn_daemon

    if args.no_daemon:
        return None, None, None
    daemon = None
    if args.connect:
        bind, pub = args.connect, args.pub
    else:
        _say(args, f"demo: starting the daemon: soundscape serve {Path(args.scene).name} ...")
        extra = ["--profile", str(args.profile)] if args.profile else None
        daemon = spawn_daemon(args.scene, backend=args.backend, extra=extra)
        bind, pub = daemon.bind, daemon.pub
        _say(args, f"demo: daemon on {bind} (telemetry {pub}), audio on {daemon.backend}")
    client = Client(bind, name="demo_game", timeout=10.0)
    try:
        info = client.hello("demo_game")
    except BaseException:
        client.close()
        if daemon is not None:
            daemon.stop()
        raise
    scene = info.get("scene", {}).get("scene")
    if scene != "demo":
        print(
            f"demo: warning: the daemon plays scene {scene!r}, not 'demo'; names may not match",
            file=sys.stderr,
        )
    sub = Subscriber(pub, topics=("error", "audio", "caption")) if pub else None
    if pub:
        _say(args, f"demo: watch it live in another terminal:  soundscape monitor --connect {pub}")
    if args.profile and daemon is None:  # a daemon we started has it from its first block
        from middleware.accessibility.profile import load_profile

        client.profile(load_profile(args.profile).to_dict())
    return client, sub, daemon


CAPTIONS_SHOWN = 4  # the keyboard mode shows this many recent captions


def caption_text(c: dict[str, Any]) -> str:
    """One caption as a line for a terminal: a spoken line as a subtitle, a sound with where it is."""
    if c.get("subtitle"):
        return f"{c.get('speaker') or 'someone'}: {c['text']}"
    line = f"[{c['text']}]" + (f" x{c['count']}" if c.get("count", 1) > 1 else "")
    d = c.get("direction")
    if d is None:
        return line
    side = "ahead" if abs(d) < 15 else "behind" if abs(d) > 165 else ("right" if d > 0 else "left")
    where = side if side in ("ahead", "behind") else f"{abs(d):.0f} deg {side}"
    return f"{line}  {where}, {c.get('distance') or 0.0:.0f} m"


def drain(sub: Any, state: dict[str, Any]) -> None:
    """Read pending telemetry without waiting: keep the last audio stats, collect errors and the
    latest captions (with when they arrived)."""
    if sub is None:
        return
    while (got := sub.recv(0)) is not None:
        topic, payload = got
        if topic == "audio":
            state["audio"] = payload
        elif topic == "error":
            state.setdefault("errors", []).append(payload)
        elif topic == "caption":
            caps = state.setdefault("captions", [])
            caps.append((time.monotonic(), payload))
            del caps[:-CAPTIONS_SHOWN]


def head_turn_focus(scene: str, run: Any) -> tuple[str, float, float, float, float] | None:
    """The fountain and the head-turn segment, for the picture's expected balance."""
    from middleware.scene.load import load_scene

    em = load_scene(scene, check_assets=False).emitters.get("fountain")
    turn = [s for s in run.segments if "head turn" in s[0]]
    if em is None or em.position is None or not turn:
        return None
    _, a, b = turn[-1]
    return ("fountain", em.position[0], em.position[2], a + 0.2 * (b - a), b)


def profile_label(args: argparse.Namespace) -> str:
    """The profile the session plays with, checked now (a bad file fails before anything starts)."""
    from .profiles import label

    if not args.profile:
        return label(None)
    from middleware.accessibility.profile import load_profile

    return label(load_profile(args.profile), args.profile)


def autoplay(args: argparse.Namespace) -> int:
    from .render import read_wav, render_session, segment_report, write_json
    from .session import run_bot

    playing = profile_label(args)
    _say(args, f"demo: player profile: {playing}")
    for note in ensure_demo_assets():
        _say(args, f"demo: made asset {note}")
    from middleware.errors import SoundscapeError

    daemon_failed = ""
    try:
        client, sub, daemon = connect(args)
    except (SoundscapeError, TimeoutError) as exc:
        if args.connect:
            raise
        # the newcomer still gets the picture and the WAV: record the session and render it offline
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        daemon_failed = lines[0].rstrip(":") + (f" ({lines[-1]})" if len(lines) > 1 else "")
        print(
            f"demo: warning: {daemon_failed}; playing without a daemon (offline render only)", file=sys.stderr
        )
        client, sub, daemon = None, None, None
    live: dict[str, Any] = {}
    shown = [-1]

    def on_tick(game: Any, bot: Any) -> None:
        drain(sub, live)
        if bot.index != shown[0]:
            shown[0] = bot.index
            st = game.status()
            _say(
                args,
                f"  {st['t']:5.1f}s  {bot.current().name:<24} area={st['area']:<7} "
                f"weather={st['weather']:<5} "
                f"time={st['time_of_day']:4.1f}h threat={st['threat']:.2f} health={st['health']:.2f} "
                f"surface={st['surface']}",
            )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    final: dict[str, Any] = {}
    try:
        run = run_bot(client, scale=args.scale, realtime=client is not None, on_tick=on_tick)
        if client is not None:
            time.sleep(0.3)
            final = client.stats()
            drain(sub, live)
    finally:
        if client is not None:
            client.close()
        if sub is not None:
            sub.close()
        stopped = daemon.stop() if daemon is not None else ""
    replay_profile = f" --profile {args.profile}" if args.profile else ""
    events = run.link.write(
        out / "demo.events.jsonl",
        f"demo_game autoplay session (scale {args.scale:g}, {run.seconds:.1f} s, profile {playing}); "
        f"replay: soundscape render {Path(args.scene).name} --events {out / 'demo.events.jsonl'}"
        + replay_profile,
    )
    audio_stats = final.get("audio", live.get("audio", {})) if final else live.get("audio", {})
    net = final.get("net", {}) if final else {}
    errors = live.get("errors", [])
    summary: dict[str, Any] = {
        "scene": str(args.scene),
        "seconds": run.seconds,
        "wall_seconds": round(run.wall_seconds, 2),
        "messages_sent": run.link.sent,
        "daemon_failed": daemon_failed or None,
        "profile": {"label": playing, "file": str(args.profile) if args.profile else None},
        "daemon": None
        if client is None
        else {
            "backend": audio_stats.get("backend"),
            "underruns": audio_stats.get("underruns"),
            "callbacks": audio_stats.get("callbacks"),
            "frames_played": audio_stats.get("frames_played"),
            "sample_rate": audio_stats.get("sample_rate"),
            "accepted": net.get("accepted"),
            "invalid": net.get("invalid"),
            "errors": errors[:20],
            "stopped": stopped,
        },
        "segments": run.segments,
    }
    _say(args, f"demo: sent {run.link.sent} messages in {run.wall_seconds:.1f} s -> {events}")
    if client is not None:
        _say(
            args,
            f"demo: daemon: {audio_stats.get('underruns')} underruns over {audio_stats.get('callbacks')} "
            f"callbacks, {net.get('accepted')} messages accepted, {net.get('invalid')} invalid, "
            f"{len(errors)} errors",
        )
    if not args.no_render:
        t0 = time.monotonic()
        wav = out / "demo.wav"
        rsum, trace = render_session(
            args.scene, events, run.seconds, wav, seed=args.seed, profile=args.profile
        )
        audio, sr = read_wav(wav)
        report = segment_report(audio, sr, trace, run.segments)
        write_json(out / "demo.trace.json", trace.to_json())
        write_json(out / "demo.segments.json", report)
        summary["render"] = rsum
        _say(
            args,
            f"demo: rendered {wav} ({rsum['seconds']:.1f} s, peak {rsum['peak']:.3f}, "
            f"director: {trace.director.get('status')}) in {time.monotonic() - t0:.1f} s",
        )
        for row in report:
            b = row["bands_db"]
            _say(
                args,
                f"  {row['segment']:<24} sub {b['sub_40_160']:6.1f}  low {b['low_160_600']:6.1f}  "
                f"mid {b['mid_600_2k']:6.1f}  high {b['high_2k_8k']:6.1f} dB   "
                f"music {','.join(row['music'])}",
            )
        from .plot import have_matplotlib, plot_demo

        if have_matplotlib():
            png = plot_demo(
                out / "demo.png", audio, sr, trace, run.segments, focus=head_turn_focus(args.scene, run)
            )
            _say(args, f"demo: picture {png}")
        else:
            _say(args, "demo: no matplotlib: skipped out/demo.png (pip install -e '.[plots]')")
    write_json(out / "demo.summary.json", summary)
    print(f"demo: done; see {out / 'demo.png'} and listen to {out / 'demo.wav'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from middleware.errors import SoundscapeError

    try:
        if args.autoplay:
            return autoplay(args)
        from middleware.commands._common import require_terminal

        require_terminal("keyboard play", "run it in a terminal, or add --autoplay to let the bot play")
        from .keyboard import play

        return play(args)
    except SoundscapeError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
