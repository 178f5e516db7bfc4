"""The studio: a live window onto a running daemon's mix, in the browser (``soundscape studio``).

``link.DaemonLink`` talks to the daemon through the public protocol (a DEALER client and the PUB
telemetry), ``server.Studio`` serves the page in ``static/`` and its WebSocket feed (aiohttp, the
``studio`` extra), ``security`` decides who may connect, ``scene_panel`` validates and hot-reloads
the scene file, and ``teach`` records examples and retrains the director. See docs/studio.md.
"""

from __future__ import annotations

MISSING_AIOHTTP = (
    "the studio needs aiohttp: pip install 'soundscape-middleware[studio]' (or pip install aiohttp)"
)


def require_aiohttp() -> None:
    """Raise a clear error when the ``studio`` extra is not installed."""
    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:
        from ..errors import SoundscapeError

        raise SoundscapeError(MISSING_AIOHTTP) from exc
