"""Small block kernels used by the bus graph: ramped gain and mix-into-parent."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def add_ramped(src, dst, n, g0, g1):
    """dst[:n] += src[:n] * g, with g ramping linearly from g0 to g1 across the block."""
    dg = (g1 - g0) / n
    for i in range(n):
        g = g0 + dg * (i + 1.0)
        dst[i, 0] += src[i, 0] * g
        dst[i, 1] += src[i, 1] * g


@njit(cache=True, nogil=True)
def scale_ramped(buf, n, g0, g1):
    """buf[:n] *= g, g ramping linearly from g0 to g1 across the block."""
    dg = (g1 - g0) / n
    for i in range(n):
        g = g0 + dg * (i + 1.0)
        buf[i, 0] *= g
        buf[i, 1] *= g
