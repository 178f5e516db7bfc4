"""Bounds on spoken lines: text size, the daemon's synthesis queue, memory budget and per-client rate.

Declared once here; the network process checks what it can before it replies (``voice.gate``), the
audio process bounds its queue and the lines it keeps (``voice.say``, ``voice.lines``), and
``soundscape serve --voice-budget`` sets the budget. Why these numbers (measured on a 2-core
machine, formant engine, 48 kHz): a 4096-byte line is about 235 s of speech, 45 MB of float32
samples, and takes about 12 s of one core to synthesise, i.e. the synthesiser speaks about 330 bytes
of text per second of CPU. A typical bark is 20-100 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EngineError

MAX_TEXT_BYTES = 4096
"""Longest line, in UTF-8 bytes (the protocol's `say.text` and `soundscape say` both)."""

MIB = 1 << 20


@dataclass(frozen=True)
class VoiceLimits:
    """What one daemon lets ``say`` cost.

    ``budget_bytes``: samples of spoken lines the audio process keeps (least recently used lines
    are dropped when no voice plays them; a line that cannot fit gets a ``limit`` error).
    ``max_queue`` / ``max_queue_bytes``: lines (and their text bytes) waiting for synthesis or in it;
    one more gets ``limit``. ``rate_bytes`` / ``burst_bytes``: each client's token bucket of text bytes
    (a line costs at least ``min_line_cost``), checked by the network process before it replies.
    """

    budget_bytes: int = 128 * MIB
    max_queue: int = 8
    max_queue_bytes: int = 4 * MAX_TEXT_BYTES
    rate_bytes: float = 512.0
    burst_bytes: int = 2 * MAX_TEXT_BYTES
    min_line_cost: int = 64

    def __post_init__(self) -> None:
        if not MIB <= self.budget_bytes <= 64 * 1024 * MIB:
            raise EngineError(f"voice budget={self.budget_bytes} bytes: must be within 1 MiB..64 GiB")
        if not 1 <= self.max_queue <= 1024:
            raise EngineError(f"voice max_queue={self.max_queue}: must be within 1..1024")
        if not MAX_TEXT_BYTES <= self.max_queue_bytes <= 1024 * MAX_TEXT_BYTES:
            raise EngineError(
                f"voice max_queue_bytes={self.max_queue_bytes}: must be within "
                f"{MAX_TEXT_BYTES}..{1024 * MAX_TEXT_BYTES} (one longest line at least)"
            )
        if not 1.0 <= self.rate_bytes <= 1e9:
            raise EngineError(f"voice rate_bytes={self.rate_bytes}: must be within 1..1e9 bytes/s")
        if not MAX_TEXT_BYTES <= self.burst_bytes <= 1 << 30:
            raise EngineError(
                f"voice burst_bytes={self.burst_bytes}: must be at least {MAX_TEXT_BYTES} (one longest line)"
            )
        if not 1 <= self.min_line_cost <= MAX_TEXT_BYTES:
            raise EngineError(f"voice min_line_cost={self.min_line_cost}: must be within 1..{MAX_TEXT_BYTES}")

    def cost(self, text_bytes: int) -> int:
        """Tokens a line of ``text_bytes`` takes from its client's bucket."""
        return max(int(text_bytes), self.min_line_cost)


def text_problem(text: object) -> tuple[str, str] | None:
    """``(protocol error code, message)`` for text no engine can speak, else None.

    Cheap (no phonemes are built), so the network process runs it before it replies; the renderer
    runs it too, so both refuse exactly the same texts.
    """
    from .lts import pronounceable

    if not isinstance(text, str):
        return "wrong_type", f"voice text: must be a string, got {type(text).__name__}"
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        return "too_long", f"voice text: {size} bytes is too long; must be 1..{MAX_TEXT_BYTES} bytes (UTF-8)"
    if not text.strip():
        return "too_long", f"voice text: empty; must be 1..{MAX_TEXT_BYTES} bytes with at least one word"
    if not pronounceable(text):
        return "rejected", f"voice text={text[:40]!r}: nothing pronounceable (letters or digits needed)"
    return None
