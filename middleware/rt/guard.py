"""A RealtimeSanitizer-like test mode for the audio path (issue 14, item 5).

Whatever renders audio (the device callback in callback mode, the render thread in ring mode, a
null sink's loop) marks its thread with ``enter_audio_thread()``. When the guard is on, calls that
may block, allocate a lot or touch the disk or the network are *guarded*: made on a marked thread,
each one is a violation, recorded with its stack (or raised as ``RealtimeViolation``). That is how
LLVM's RealtimeSanitizer (``-fsanitize=realtime``) checks C++ code marked ``[[clang::nonblocking]]``;
here the marked code is a thread rather than a function because pyminiaudio's callback and the
render loop run nothing else.

Guarded when on (``GUARDED`` lists them): ZeroMQ socket send/recv and polling, msgpack and JSON
encoding and decoding, onnxruntime session creation and ``run``, the builtin ``open`` (``io.open``, so
``Path.open``/``read_bytes`` too), ``os.stat``/``os.lstat`` (``Path.stat``, ``os.path.exists``...),
``print``, ``logging`` records, ``traceback`` printing, ``time.sleep``, an ``import`` that loads a
module from disk, and every project function marked ``@forbidden("what")`` (generator and morph
construction, asset decoding, model loading).

Off by default, and then free: nothing is patched, ``forbidden`` returns the function itself, and a
renderer pays one set insertion when its thread starts. Turn it on with the environment variable
``SOUNDSCAPE_RT_GUARD`` (``1``/``record``: record; ``raise``: raise at the call) before a sink or
the daemon's audio process starts (``install_from_env``), or from a test with ``enable()``.
``violations()`` returns what was recorded; the daemon reports the count in its ``audio`` stats
(``rt_violations``) and prints each stack from its main thread. See docs/audio-threading.md.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

ENV = "SOUNDSCAPE_RT_GUARD"
"""Environment variable that turns the guard on: ``1``/``record`` or ``raise`` (empty/``0``: off)."""

MODES = ("record", "raise")
MAX_KEPT = 256
"""Violations kept with their stacks (the count goes on beyond)."""

F = TypeVar("F", bound=Callable[..., Any])


class RealtimeViolation(RuntimeError):
    """A guarded call on the audio thread, raised in ``raise`` mode."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One guarded call made on a marked thread: what was called, on which thread, from where."""

    what: str
    thread: str
    stack: traceback.StackSummary

    def key(self) -> tuple[str, str, int]:
        """What was called and the line that called it: the same violation made every block is one."""
        caller = self.stack[-1] if len(self.stack) else None
        return (self.what, caller.filename if caller else "", caller.lineno if caller else 0)

    def format(self) -> str:
        """The call and its stack, innermost last (source lines are looked up here, off the audio
        thread, not when the violation was recorded)."""
        for frame in self.stack:
            frame.line  # noqa: B018 - loads the source line now
        return f"{self.what} on audio thread {self.thread!r}\n" + "".join(self.stack.format())


_audio_threads: set[int] = set()  # idents of the threads marked as audio threads
_mode: str | None = None  # None: off
_kept: deque[Violation] = deque(maxlen=MAX_KEPT)
_count = 0
_printed: set[tuple[str, str, int]] = set()  # keys of the violations report() printed
_local = threading.local()  # .busy: inside the guard's own bookkeeping (no recursion)
_installed: list[tuple[Any, str, Any]] = []  # (owner, attribute, original or _INHERITED) patched by enable()
_INHERITED = object()  # the attribute came from a base class: restoring deletes the override
_marked: list[tuple[Callable[..., Any], str]] = []  # project functions marked with @forbidden
_state_lock = threading.Lock()  # enable/disable only (never taken on the audio thread)


# ----------------------------------------------------------------------------------- marking
def enter_audio_thread() -> None:
    """Mark the calling thread as an audio thread (renderers call this once when they start)."""
    _audio_threads.add(threading.get_ident())


def leave_audio_thread(ident: int | None = None) -> None:
    """Unmark the calling thread (a renderer that stops), or the thread ``ident`` (a device thread
    that ended: its ident may be given to a new thread)."""
    _audio_threads.discard(threading.get_ident() if ident is None else ident)


def on_audio_thread() -> bool:
    """Whether the calling thread is marked."""
    return threading.get_ident() in _audio_threads


@contextlib.contextmanager
def audio_thread() -> Iterator[None]:
    """Mark the calling thread for the duration of a ``with`` block (restores what it was)."""
    ident = threading.get_ident()
    was = ident in _audio_threads
    _audio_threads.add(ident)
    try:
        yield
    finally:
        if not was:
            _audio_threads.discard(ident)


# ---------------------------------------------------------------------------------- reporting
def _violate(what: str) -> None:
    global _count
    _local.busy = True
    try:
        stack = traceback.StackSummary.extract(
            traceback.walk_stack(sys._getframe(2)), limit=40, lookup_lines=False
        )
        stack.reverse()  # innermost last, like a traceback
        _kept.append(Violation(what, threading.current_thread().name, stack))
        _count += 1
    finally:
        _local.busy = False
    if _mode == "raise":
        raise RealtimeViolation(f"{what} called on the audio thread (SOUNDSCAPE_RT_GUARD=raise)")


def violations() -> list[Violation]:
    """The violations recorded so far (the last ``MAX_KEPT``)."""
    return list(_kept)


def violation_count() -> int:
    """Every violation recorded since the last ``clear()``, kept or not."""
    return _count


def clear() -> None:
    global _count
    _kept.clear()
    _printed.clear()
    _count = 0


def enabled() -> bool:
    return _mode is not None


def mode() -> str | None:
    return _mode


# ----------------------------------------------------------------------------------- guarding
def _guarded(what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    audio = _audio_threads
    ident = threading.get_ident
    local = _local

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if ident() in audio and not getattr(local, "busy", False):
            _violate(what)
        return fn(*args, **kwargs)

    guarded.__rt_guard_original__ = fn  # type: ignore[attr-defined]
    return guarded


def _guarded_import(original: Callable[..., Any]) -> Callable[..., Any]:
    """``__import__`` that flags an import on the audio thread only if it loaded a module (the
    cached case is a dict lookup; a first import reads files and runs module code)."""
    audio = _audio_threads
    ident = threading.get_ident
    modules = sys.modules
    local = _local

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if ident() not in audio or getattr(local, "busy", False):
            return original(name, *args, **kwargs)
        before = len(modules)
        module = original(name, *args, **kwargs)
        if len(modules) != before:
            _violate(f"import {name} (loaded a module from disk)")
        return module

    guarded_import.__rt_guard_original__ = original  # type: ignore[attr-defined]
    return guarded_import


def _patch(owner: Any, name: str, what: str, *, aliases: bool = False) -> None:
    original = getattr(owner, name, None)
    if original is None or hasattr(original, "__rt_guard_original__"):
        return
    wrapper = _guarded(what, original)
    own = name in vars(owner)
    setattr(owner, name, wrapper)
    _installed.append((owner, name, original if own else _INHERITED))
    if aliases:  # `from x import f` copies in the project's modules
        for mod_name, mod in list(sys.modules.items()):
            if mod is owner or mod is None or not mod_name.startswith(("middleware", "demo_game")):
                continue
            for attr, value in list(vars(mod).items()):
                if value is original:
                    setattr(mod, attr, wrapper)
                    _installed.append((mod, attr, original))


GUARDED: tuple[tuple[str, str, str], ...] = (
    # (module, attribute path, what): third-party and standard calls the audio path must not make
    ("zmq", "Socket.send", "zmq send"),
    ("zmq", "Socket.recv", "zmq recv"),
    ("zmq", "Socket.send_multipart", "zmq send"),
    ("zmq", "Socket.recv_multipart", "zmq recv"),
    ("zmq", "Socket.poll", "zmq poll"),
    ("zmq", "Poller.poll", "zmq poll"),
    ("msgpack", "packb", "msgpack pack"),
    ("msgpack", "unpackb", "msgpack unpack"),
    ("msgpack", "dumps", "msgpack pack"),
    ("msgpack", "loads", "msgpack unpack"),
    ("json", "dumps", "json encoding"),
    ("json", "loads", "json decoding"),
    ("onnxruntime", "InferenceSession.__init__", "onnxruntime session creation"),
    ("onnxruntime.capi.onnxruntime_inference_collection", "Session.run", "onnxruntime run"),
    ("builtins", "open", "open"),
    ("io", "open", "open"),
    ("os", "stat", "os.stat"),
    ("os", "lstat", "os.stat"),
    ("builtins", "print", "print"),
    ("logging", "Logger.handle", "logging"),
    ("traceback", "print_exception", "traceback printing"),
    ("traceback", "print_exc", "traceback printing"),
    ("traceback", "print_stack", "traceback printing"),
    ("time", "sleep", "time.sleep"),
)


def _resolve(module: str, path: str) -> tuple[Any, str] | None:
    try:
        owner: Any = __import__(module, fromlist=["_"])
    except ImportError:  # an optional dependency that is not installed guards nothing
        return None
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    return owner, name


def _owner_of(fn: Callable[..., Any]) -> tuple[Any, str]:
    owner: Any = sys.modules[fn.__module__]
    *parents, name = fn.__qualname__.split(".")
    for part in parents:
        owner = getattr(owner, part)
    return owner, name


def forbidden(what: str) -> Callable[[F], F]:
    """Mark a project function (or ``__init__``) that must never run on the audio thread.

    With the guard off it returns the function itself (no wrapper, no cost); ``enable()`` replaces
    it on its class or module (and ``from x import f`` copies in project modules) while on.
    """

    def mark(fn: F) -> F:
        if "<locals>" in fn.__qualname__:
            where = fn.__qualname__
            raise TypeError(f"@forbidden({what!r}): {where} is local; mark a module or class attribute")
        _marked.append((fn, what))
        return _guarded(what, fn) if _mode is not None else fn  # type: ignore[return-value]

    return mark


def enable(mode: str = "record") -> None:
    """Turn the guard on (idempotent; a second call only changes the mode)."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"{ENV} mode={mode!r}: expected one of {', '.join(MODES)}")
    with _state_lock:
        if _mode is None:
            for module, path, what in GUARDED:
                found = _resolve(module, path)
                if found is not None:
                    _patch(*found, what, aliases=module == "msgpack")
            for fn, what in _marked:
                owner, name = _owner_of(fn)
                if getattr(owner, name, None) is fn:
                    _patch(owner, name, what, aliases=True)
            _installed.append((builtins, "__import__", builtins.__import__))
            builtins.__import__ = _guarded_import(builtins.__import__)
        _mode = mode


def disable() -> None:
    """Turn the guard off and put every patched function back (marks and records stay)."""
    global _mode
    with _state_lock:
        while _installed:
            owner, name, original = _installed.pop()
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _mode = None


def install_from_env() -> bool:
    """Turn the guard on if ``SOUNDSCAPE_RT_GUARD`` asks for it; returns whether it is on.
    Call it on a control thread before audio starts (it imports the guarded modules)."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("", "0", "off", "no", "false"):
        return _mode is not None
    enable("record" if value in ("1", "on", "yes", "true") else value)
    return True


def report(since: int = 0, file: Any = None) -> int:
    """Print the violations recorded after the first ``since`` (never call it on the audio thread);
    returns the count to pass next time. Each distinct one (what, and where it was called from) is
    printed once with its stack; repeats of it (a call made every block) are only counted, so a
    periodic caller cannot flood stderr."""
    count = _count
    new = count - since
    if new <= 0:
        return count
    out = file if file is not None else sys.stderr
    kept = list(_kept)[-min(new, MAX_KEPT) :]
    repeats = new - len(kept)
    for v in kept:
        key = v.key()
        if key in _printed:
            repeats += 1
            continue
        _printed.add(key)
        out.write(f"{ENV}: {v.format()}")
    if repeats:
        out.write(f"{ENV}: {repeats} more violation(s), repeats of those printed\n")
    out.flush()
    return count
