"""Incremental WAV writer (PCM 16/24-bit or IEEE float 32-bit) with a LIST/INFO metadata chunk.

Written by hand rather than with scipy/soundfile (not runtime dependencies) or the ``wave`` module
(PCM only, no extra chunks): one small RIFF writer covers both formats and places the metadata
chunk before the audio, where streaming readers see it first. Sizes are written as zero and fixed
by ``close()``, so a file of any length is written block by block in constant memory.

Layout: ``RIFF/WAVE`` > ``fmt `` (tag 1 PCM, or tag 3 IEEE float with cbSize=0) > ``fact`` (float
only: frame count, required for non-PCM formats) > ``LIST/INFO`` (``ISFT`` software, ``ICMT`` a
JSON object of generated-by labels, e.g. which model and version made what) > ``data``.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import IO, Any

import numpy as np

from .. import __version__
from ..errors import AudioFileError
from .base import Renderable, check_block

SUBTYPES = {"float32": (3, 4), "pcm16": (1, 2), "pcm24": (1, 3)}  # name -> (format tag, bytes/sample)
SOFTWARE = f"soundscape-middleware {__version__}"
_MAX_RIFF = 0xFFFFFFFF


def _info_subchunk(key: str, text: str) -> bytes:
    data = text.encode("ascii", "replace") + b"\x00"
    if len(data) % 2:
        data += b"\x00"
    return key.encode("ascii") + struct.pack("<I", len(data)) + data


def _to_bytes(block: np.ndarray, subtype: str) -> bytes:
    """Convert float frames to the file's sample encoding (vectorised, no per-sample Python)."""
    if subtype == "float32":
        return np.ascontiguousarray(block, dtype="<f4").tobytes()
    clipped = np.clip(block, -1.0, 1.0)
    if subtype == "pcm16":
        return np.rint(clipped * 32767.0).astype("<i2").tobytes()
    ints = np.rint(clipped * 8388607.0).astype("<i4")
    return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()  # little-endian: drop the top byte


class WavSink:
    """Write ``(frames, channels)`` float blocks to a WAV file as they come.

    ``subtype`` is ``"float32"`` (IEEE float, bit-exact), ``"pcm16"`` or ``"pcm24"`` (clipped to
    [-1, 1] and rounded). ``metadata`` must be JSON-serialisable; it is stored in the ``ICMT``
    field and returned by ``read_wav_metadata``. Use as a context manager or call ``close()``.
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate: int,
        channels: int = 2,
        subtype: str = "float32",
        metadata: dict[str, Any] | None = None,
        software: str = SOFTWARE,
    ) -> None:
        if subtype not in SUBTYPES:
            raise AudioFileError(f"subtype={subtype!r}: must be one of {', '.join(SUBTYPES)}")
        if not 1 <= channels <= 16:
            raise AudioFileError(f"channels={channels}: must be within 1..16")
        if not 1000 <= sample_rate <= 768000:
            raise AudioFileError(f"sample_rate={sample_rate}: must be within 1000..768000 Hz")
        try:
            comment = json.dumps(metadata or {}, sort_keys=True, ensure_ascii=True)
        except (TypeError, ValueError) as exc:
            raise AudioFileError(f"metadata: must be JSON-serialisable ({exc})") from exc
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.subtype = subtype
        self.metadata = dict(metadata or {})
        tag, width = SUBTYPES[subtype]
        self._width = width
        self.frames = 0
        self._data_bytes = 0
        try:
            self._fh: IO[bytes] | None = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise AudioFileError(f"path={str(self.path)!r}: cannot open for writing ({exc})") from exc
        align = channels * width
        fmt = struct.pack("<HHIIHH", tag, channels, sample_rate, sample_rate * align, align, width * 8)
        if tag == 3:
            fmt += struct.pack("<H", 0)
        info = b"INFO" + _info_subchunk("ISFT", software) + _info_subchunk("ICMT", comment)
        fh = self._fh
        fh.write(b"RIFF\x00\x00\x00\x00WAVE")
        fh.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
        self._fact_pos = -1
        if tag == 3:
            fh.write(b"fact" + struct.pack("<I", 4))
            self._fact_pos = fh.tell()
            fh.write(b"\x00\x00\x00\x00")
        fh.write(b"LIST" + struct.pack("<I", len(info)) + info)
        fh.write(b"data")
        self._data_size_pos = fh.tell()
        fh.write(b"\x00\x00\x00\x00")
        self._header_bytes = fh.tell()

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` of shape ``(frames, channels)`` (or ``(frames,)`` when mono)."""
        if self._fh is None:
            raise AudioFileError(f"path={str(self.path)!r}: write() after close()")
        arr = np.asarray(block)
        if arr.ndim == 1 and self.channels == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != self.channels:
            raise AudioFileError(f"block shape={arr.shape}: expected (frames, {self.channels})")
        data = _to_bytes(arr, self.subtype)
        if self._header_bytes + self._data_bytes + len(data) + 1 > _MAX_RIFF:
            raise AudioFileError(f"path={str(self.path)!r}: WAV files are limited to 4 GiB")
        self._fh.write(data)
        self._data_bytes += len(data)
        self.frames += arr.shape[0]

    def close(self) -> None:
        """Fix the RIFF, fact and data sizes (idempotent)."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if self._data_bytes % 2:
                fh.write(b"\x00")  # chunks are word aligned; the pad is not counted in the size
            end = fh.tell()
            fh.seek(4)
            fh.write(struct.pack("<I", end - 8))
            if self._fact_pos >= 0:
                fh.seek(self._fact_pos)
                fh.write(struct.pack("<I", self.frames))
            fh.seek(self._data_size_pos)
            fh.write(struct.pack("<I", self._data_bytes))
        finally:
            fh.close()

    def __enter__(self) -> WavSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    out = []
    pos = start
    while pos + 8 <= end:
        cid = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        out.append((cid, data[pos + 8 : min(pos + 8 + size, end)]))
        pos += 8 + size + (size & 1)
    return out


def read_wav_info(path: str | Path) -> dict[str, str]:
    """All LIST/INFO fields of a WAV file (``{"ISFT": ..., "ICMT": ...}``), empty if none."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AudioFileError(f"path={str(path)!r}: cannot read ({exc})") from exc
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFileError(f"path={str(path)!r}: not a RIFF/WAVE file")
    info: dict[str, str] = {}
    for cid, body in _chunks(data, 12, len(data)):
        if cid == b"LIST" and body[:4] == b"INFO":
            for key, value in _chunks(body, 4, len(body)):
                info[key.decode("ascii", "replace")] = value.split(b"\x00", 1)[0].decode("utf-8", "replace")
    return info


def read_wav_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata dict a ``WavSink`` stored (parsed from ``ICMT``); ``{}`` when absent.

    A non-JSON comment from another tool comes back as ``{"comment": text}``.
    """
    comment = read_wav_info(path).get("ICMT")
    if comment is None:
        return {}
    try:
        value = json.loads(comment)
    except ValueError:
        return {"comment": comment}
    return value if isinstance(value, dict) else {"comment": value}


def render_to_wav(
    renderable: Renderable,
    seconds: float,
    path: str | Path,
    metadata: dict[str, Any] | None = None,
    subtype: str = "float32",
) -> dict[str, Any]:
    """Render ``seconds`` of audio offline, as fast as the CPU allows, into ``path``.

    Renders whole engine blocks and a shorter last block, so the file has exactly
    ``round(seconds * rate)`` frames. Returns frames written and the real-time factor achieved.
    """
    if not seconds >= 0:
        raise AudioFileError(f"seconds={seconds}: must be >= 0")
    cfg = renderable.config
    total = round(seconds * cfg.sample_rate)
    t0 = time.perf_counter()
    with WavSink(path, cfg.sample_rate, cfg.channels, subtype, metadata) as sink:
        done = 0
        while done < total:
            n = min(cfg.block, total - done)
            sink.write(check_block(renderable.render(n), n, cfg.channels))
            done += n
    wall = time.perf_counter() - t0
    return {
        "path": str(path),
        "frames": total,
        "seconds": total / cfg.sample_rate,
        "wall_s": wall,
        "realtime_factor": (total / cfg.sample_rate) / wall if wall > 0 else float("inf"),
    }
