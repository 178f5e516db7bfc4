"""``soundscape monitor``: a live terminal view of a daemon's telemetry (state, view and app)."""

from .state import MonitorState
from .view import render_lines

__all__ = ["MonitorState", "render_lines"]
