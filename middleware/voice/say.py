"""Getting a spoken line ready to play: at once (offline) or through the synthesis worker (daemon).

``prepare_line`` renders in the caller's thread, for ``SceneRuntime.say`` and the offline renderer.
``SayQueue`` is the audio process's side of the ``say`` message: a line the bank holds already is
ready at once; any other goes to the worker process (``voice.worker``) through a bounded queue, and
comes back through ``poll`` to be stored within the memory budget (``voice.lines``). Every refusal is
an exception the caller reports with the request it belongs to (its id and client).
"""

from __future__ import annotations

from typing import Any

from ..errors import EngineError, ProtocolError
from . import get_preset, line_key, render_line
from .limits import VoiceLimits, text_problem
from .lines import line_name, store_for
from .worker import SynthWorker

LABEL_KEYS = ("synthetic", "engine", "engine_version", "preset", "duration_s", "key")
"""What the `say` telemetry topic carries of a line's info."""


def _label(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info[k] for k in LABEL_KEYS}


def _source(info: dict[str, Any]) -> str:
    return f"synthetic voice ({info['engine']}, preset {info['preset']})"


def prepare_line(engine: Any, text: str, preset: str = "neutral") -> tuple[str, dict[str, Any]]:
    """Render (or find) a line and store it in ``engine``'s bank; returns (sample name, label).

    Slow on a miss (about 1/20 of the line's duration): call it off the render thread. The line is
    taken once: play it with ``SceneRuntime.play_line``, which says when it may be dropped."""
    store = store_for(engine)
    sr = int(engine.bank.sample_rate)
    name = line_name(line_key(text, preset, sr))
    label = store.take(name)
    if label is not None:
        return name, label
    audio, info = render_line(text, preset, sr)
    return name, store.admit(name, audio, _label(info), _source(info))


class SayQueue:
    """Lines waiting for the worker, and the worker itself (started at the first line it needs).

    ``submit`` returns ``(name, label)`` for a line ready now, or None when it was queued; queued
    lines come back from ``poll`` as ``(request, (name, label) | exception)``, in any order.
    """

    def __init__(self, engine: Any, limits: VoiceLimits | None = None) -> None:
        self.limits = limits or VoiceLimits()
        self.store = store_for(engine, self.limits.budget_bytes)
        self.sr = int(engine.bank.sample_rate)
        self.worker: SynthWorker | None = None
        self._waiting: dict[str, list[Any]] = {}  # line key -> requests for it, in arrival order
        self._waiting_count = 0
        self._text_bytes: dict[str, int] = {}  # line key -> its text's bytes (one synthesis per key)
        self.counters = {
            "say_synthesised": 0,
            "say_queue_full": 0,
            "say_failed": 0,  # the synthesiser refused or failed
            "say_refused": 0,  # every say the audio process reported an error for
            "worker_starts": 0,
        }

    @property
    def queued(self) -> int:
        return self._waiting_count

    @property
    def queued_bytes(self) -> int:
        return sum(self._text_bytes.values())

    def submit(self, text: str, preset: str, request: Any) -> tuple[str, dict[str, Any]] | None:
        """Raises EngineError (bad text or preset) or ProtocolError (``limit``: the queue is full)."""
        problem = text_problem(text)
        if problem is not None:
            raise EngineError(problem[1])
        name_p = get_preset(preset).name
        key = line_key(text, name_p, self.sr)
        name = line_name(key)
        label = self.store.take(name)
        if label is not None:
            return name, label
        limits = self.limits
        size = len(text.encode("utf-8"))
        new = key not in self._waiting
        if self._waiting_count >= limits.max_queue or (
            new and self.queued_bytes + size > limits.max_queue_bytes
        ):
            self.counters["say_queue_full"] += 1
            raise ProtocolError(
                f"say: {self._waiting_count} lines ({self.queued_bytes} bytes of text) wait for synthesis; "
                f"at most {limits.max_queue} lines and {limits.max_queue_bytes} bytes: try again later",
                code="limit",
                where="text",
            )
        if new:
            worker = self._worker()
            try:
                worker.submit(key, text, name_p, self.sr)
            except OSError as exc:  # poll() reports the worker's end to the lines it had
                raise ProtocolError(f"say: {exc}", code="internal", where="text") from exc
            self._waiting[key] = []
            self._text_bytes[key] = size
        self._waiting[key].append(request)
        self._waiting_count += 1
        return None

    def poll(self) -> list[tuple[Any, tuple[str, dict[str, Any]] | Exception]]:
        """Lines the worker finished, stored in the bank (or the reason they were not)."""
        worker = self.worker
        if worker is None:
            return []
        out: list[tuple[Any, tuple[str, dict[str, Any]] | Exception]] = []
        for key, samples, info in worker.poll():
            if key is None:  # the worker died: every line it had is lost; the next say starts another
                err = ProtocolError(info["message"], code=info.get("code", "internal"), where="text")
                for k in list(self._waiting):
                    out += [(r, err) for r in self._finish(k)]
                self.worker = None
                worker.close(0.2)
                continue
            requests = self._finish(key)
            if samples is None:
                self.counters["say_failed"] += 1
                err = ProtocolError(info["message"], code=info.get("code", "rejected"), where="text")
                out += [(r, err) for r in requests]
                continue
            self.counters["say_synthesised"] += 1
            name = line_name(key)
            try:
                label = self.store.admit(name, samples, _label(info), _source(info))
            except ProtocolError as exc:
                # Without its traceback: the frames would keep the samples (megabytes) alive until a
                # full garbage collection, through the cycle exception -> frame -> ``out`` -> exception.
                out += [(r, exc.with_traceback(None)) for r in requests]
                continue
            finally:
                del samples
            out.append((requests[0], (name, label)))
            for r in requests[1:]:  # the same line asked again while it was rendered
                out.append((r, (name, self.store.take(name) or label)))
        return out

    def _finish(self, key: str) -> list[Any]:
        requests = self._waiting.pop(key, [])
        self._text_bytes.pop(key, None)
        self._waiting_count -= len(requests)
        return requests

    def _worker(self) -> SynthWorker:
        if self.worker is None:  # a dead one is replaced once poll() has failed the lines it had
            self.worker = SynthWorker()
            self.counters["worker_starts"] += 1
        return self.worker

    def stats(self) -> dict[str, Any]:
        return {
            **self.store.stats(),
            **self.counters,
            "say_queued": self._waiting_count,
            "voice_worker_pid": self.worker.pid if self.worker is not None else 0,
        }

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None
