"""Interactive music on a beat grid: segments switch on the next beat or bar, to the sample.

The player follows the scene's music definition: the segment its conditions want plays, a change
waits for the transition's boundary (beat, bar or immediately) and crossfades there, stingers play
on their grid point, and ``beat``/``bar`` events go out for every grid point a block holds. A hot
reload hands the old player to the new one, so the grid and the playing segment carry on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import SceneDef, SegmentDef
from .state import SETTLE

if TYPE_CHECKING:
    from .runtime import SceneRuntime


class MusicPlayer:
    """Interactive music on a beat grid: segments switch on the next beat or bar, to the sample."""

    def __init__(self, rt: SceneRuntime, scene: SceneDef, previous: MusicPlayer | None = None) -> None:
        self.rt = rt
        self.music = scene.music
        assert self.music is not None
        self.sr = rt.sr
        self.origin = previous.origin if previous else -1
        self.current: str | None = previous.current if previous else None
        self.handle: int | None = previous.handle if previous else None
        self.gain_db: float | None = previous.gain_db if previous else None  # what the voice was told
        self.started = previous.started if previous else -1  # the playing segment's first frame
        self.pending: tuple[str, int] | None = None
        self.stingers_due: list[tuple[int, str]] = []
        self.stinger_was: dict[str, bool] = {}
        self.next_beat = previous.next_beat if previous else -1
        self.beat_index = previous.beat_index if previous else 0
        if self.current is not None and self.current not in self.music.segments:
            self.stop_all()
            self.current = None
        elif previous is not None and self.handle is not None and previous.music.bus != self.music.bus:
            self._reroute()

    def _reroute(self) -> None:
        """A reload moved the music to another bus: the engine fixed the playing segment's bus when
        it started, so it plays again on the new one from where it was, crossfaded (else it stayed on
        the old bus, which the reload may have muted)."""
        from .reload import ROUTE_CROSSFADE_S

        rt = self.rt
        seg = self.music.segments[self.current]  # type: ignore[index]
        key = rt.assets.key(seg.source)
        frames = rt.engine.bank.info(key).frames
        pos = max(0, rt.frame - self.started)
        rt.engine.stop(self.handle, release=ROUTE_CROSSFADE_S)  # type: ignore[arg-type]
        self.handle = None
        if seg.loop:
            pos %= max(1, frames)
        elif pos >= frames:
            return  # it has ended; its ``next`` follows as before
        self.gain_db = self._segment_gain(seg)
        self.started = rt.frame
        self.handle = rt.engine.play(
            key,
            bus=self.music.bus,
            gain_db=self.gain_db,
            loop=seg.loop,
            offset=pos / self.sr,
            start_frame=rt.frame,
            fade_in=ROUTE_CROSSFADE_S,
        )

    def status(self) -> dict:
        return {
            "segment": self.current,
            "pending": self.pending[0] if self.pending else None,
            "beat": self.beat_index,
        }

    def queue_stinger(self, name: str, now: int) -> None:
        st = self.music.stingers[name]
        origin = self.origin if self.origin >= 0 else now
        at = self.music.next_boundary_frame(now, origin, st.at, self.sr)
        self.stingers_due.append((at, name))

    def _play_stingers(self, start: int, end: int) -> None:
        rt = self.rt
        for st in self.music.stingers.values():
            if st.when is None:
                continue
            now = bool(st.when.evaluate(rt.env))
            if now and not self.stinger_was.get(st.name, False):
                self.queue_stinger(st.name, start)
            self.stinger_was[st.name] = now
        due = [x for x in self.stingers_due if x[0] < end]
        if not due:
            return
        self.stingers_due = [x for x in self.stingers_due if x[0] >= end]
        for at, name in due:
            self._play_stinger(name, max(at, start))
            rt.events.append(("stinger", {"stinger": name, "frame": max(at, start)}))

    def _play_stinger(self, name: str, frame: int) -> None:
        st = self.music.stingers[name]
        self.rt.engine.play(
            self.rt.assets.key(st.source),
            bus=self.music.bus,
            gain_db=st.gain_db + st.source.gain_db,
            start_frame=frame,
        )

    def stop_all(self) -> None:
        if self.handle is not None:
            self.rt.engine.stop(self.handle, release=0.05)
            self.handle = None

    def _wanted(self) -> str:
        m = self.music
        for seg in m.segments.values():
            if seg.when is not None and seg.when.evaluate(self.rt.env):
                return seg.name
        return self.current or m.start

    def _segment_gain(self, seg: SegmentDef) -> float:
        return (seg.gain.evaluate(self.rt.env) or 0.0) + seg.source.gain_db

    def _play(self, seg: SegmentDef, frame: int, fade_in: float) -> None:
        rt = self.rt
        self.gain_db = self._segment_gain(seg)
        self.started = frame
        self.handle = rt.engine.play(
            rt.assets.key(seg.source),
            bus=self.music.bus,
            gain_db=self.gain_db,
            loop=seg.loop,
            start_frame=frame,
            fade_in=fade_in,
        )

    def _follow_gain(self, start: int) -> None:
        """The playing segment's ``gain`` curve follows its parameters (not frozen at its start)."""
        seg = self.music.segments.get(self.current) if self.current else None
        if seg is None or self.handle is None:
            return
        gain = self._segment_gain(seg)
        if self.gain_db is None or abs(gain - self.gain_db) > SETTLE:
            # at the block after the voice's start, so the change never reaches the engine before it
            self.rt.engine.set_voice(self.handle, gain_db=gain, at_frame=max(start, self.started + 1))
            self.gain_db = gain

    def update(self, start: int, end: int) -> None:
        m = self.music
        rt = self.rt
        if self.current is None:
            self.origin = start
            self.current = self._wanted()
            self._play(m.segments[self.current], start, 0.0)
            self.next_beat = start
            rt.events.append(("music_segment", {"segment": self.current, "frame": start}))
        # beat / bar callbacks for grid points inside this block
        spb = m.seconds_per_beat * self.sr
        while self.next_beat < end:
            bar, beat = divmod(self.beat_index, m.beats_per_bar)
            rt.events.append(("beat", {"beat": beat + 1, "bar": bar + 1, "frame": self.next_beat}))
            if beat == 0:
                rt.events.append(("bar", {"bar": bar + 1, "frame": self.next_beat}))
            self.beat_index += 1
            self.next_beat = self.origin + round(self.beat_index * spb)
        self._play_stingers(start, end)
        if rt.dirty:
            self._follow_gain(start)
        want = self._wanted()
        if self.pending is None and want != self.current:
            tr = m.transition(self.current, want)
            at = m.next_boundary_frame(start, self.origin, tr.at, self.sr)
            self.pending = (want, at)
        if self.pending is not None and self.pending[1] < end:
            name, at = self.pending
            tr = m.transition(self.current, name)
            if self.handle is not None:
                rt.engine.stop(self.handle, release=tr.fade_out, at_frame=at)
            self._play(m.segments[name], at, tr.fade_in)
            if tr.stinger and tr.stinger in m.stingers:
                self._play_stinger(tr.stinger, at)
            rt.events.append(("music_segment", {"segment": name, "frame": at}))
            self.current = name
            self.pending = None
