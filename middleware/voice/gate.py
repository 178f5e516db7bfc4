"""The network process's checks on `say`, made before it replies (``transport.server`` calls them).

An ``ok`` reply to `say` means the line will be spoken unless something only the audio process can
know stops it (its synthesis queue is full, the voice memory budget is taken by lines still playing,
the synthesiser fails); those come back later as an `error` carrying the request's ``id`` and the
client's name. Everything else is refused here, with the field it concerns: an unknown ``preset`` or
``emitter`` (``unknown_name``), text over ``MAX_TEXT_BYTES`` UTF-8 bytes (``too_long``: the wire
field counts characters, and 4096 characters can be 16 kB), text with nothing to pronounce
(``rejected``), and a client speaking faster than its token bucket allows (``limit``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ProtocolError
from ..hints import suggestion
from .limits import MAX_TEXT_BYTES, VoiceLimits, text_problem
from .presets import PRESETS

MAX_BUCKETS = 4096
"""Clients whose rate is tracked at once (the least recently seen one is forgotten beyond it; the
server forgets client keys beyond the same number)."""


class SayGate:
    """Per-message checks and one token bucket of text bytes per client."""

    def __init__(
        self, limits: VoiceLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or VoiceLimits()
        self.clock = clock
        self._buckets: OrderedDict[Any, tuple[float, float]] = OrderedDict()  # client -> (tokens, t)
        self._emitters: tuple[Any, frozenset[str] | None] = (None, None)
        self.counters = {"say_rate_limited": 0}

    def admit(
        self, client: Any, rid: int | None, says: Iterable[tuple[dict[str, Any], str]], describe: Mapping
    ) -> None:
        """Check every `say` of one message (``(fields, where)``: ``where`` prefixes field names, as
        ``items[3].``), charge the client for all of them, and tag each with the request's ``id``
        so that a refusal from the audio process names it. Raises ProtocolError; charges nothing then."""
        says = list(says)
        if not says:
            return
        emitters = self._emitter_names(describe)
        sizes = []
        for fields, where in says:
            preset = fields.get("preset", "neutral")
            if preset not in PRESETS:
                hint = suggestion(preset, PRESETS)
                raise ProtocolError(
                    f"{where}preset={preset!r}: no such voice preset{' (' + hint + ')' if hint else ''}; "
                    f"known: {', '.join(PRESETS)}",
                    code="unknown_name",
                    where=where + "preset",
                )
            emitter = fields.get("emitter")
            if emitter is not None and emitters is not None and emitter not in emitters:
                hint = suggestion(emitter, emitters)
                shown = ", ".join(sorted(emitters)[:12]) or "none"
                raise ProtocolError(
                    f"{where}emitter={emitter!r}: no such emitter{' (' + hint + ')' if hint else ''}; "
                    f"known: {shown}",
                    code="unknown_name",
                    where=where + "emitter",
                )
            size = len(fields["text"].encode("utf-8"))
            if size > MAX_TEXT_BYTES:
                raise ProtocolError(
                    f"{where}text: {size} bytes (UTF-8) is too long; must be 1..{MAX_TEXT_BYTES} bytes",
                    code="too_long",
                    where=where + "text",
                )
            sizes.append(size)
        self._charge(client, sum(self.limits.cost(s) for s in sizes), says[0][1] + "text")
        for fields, where in says:  # after the charge: at most 16 ms per 4 kB of unpronounceable text
            problem = text_problem(fields["text"])
            if problem is not None:
                raise ProtocolError(f"{where}{problem[1]}", code=problem[0], where=where + "text")
        for fields, _ in says:
            fields["id"] = rid

    def _emitter_names(self, describe: Mapping) -> frozenset[str] | None:
        listed = describe.get("emitters") if describe else None
        if listed is None:
            return None
        source, names = self._emitters
        if source is not listed:  # a new scene: one set per description, not one per message
            names = frozenset(str(n) for n in listed)
            self._emitters = (listed, names)
        return names

    def _charge(self, client: Any, cost: int, where: str) -> None:
        lim = self.limits
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(lim.burst_bytes), now))
        tokens = min(float(lim.burst_bytes), tokens + (now - last) * lim.rate_bytes)
        if cost > tokens:
            self._remember(client, tokens, now)
            self.counters["say_rate_limited"] += 1
            wait = (cost - tokens) / lim.rate_bytes
            raise ProtocolError(
                f"say: too fast: each client may say {lim.rate_bytes:g} bytes of text per second (bursts of "
                f"{lim.burst_bytes}, each line counting at least {lim.min_line_cost}); this needs {cost}, "
                f"{int(tokens)} left: retry in {wait:.2f} s",
                code="limit",
                where=where,
            )
        self._remember(client, tokens - cost, now)

    def _remember(self, client: Any, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
