"""The sample bank: every decoded asset, once, at the engine rate, shared by all voices.

Samples live in one flat float32 array (interleaved when stereo) so the voice kernel reads any
sample through an (offset, length, channels) triple without Python objects on the audio path.

Memory comes and goes without copying the bank on the way:

* The array is backed by anonymous memory (an ``mmap``), so only the pages written are resident:
  spare capacity costs address space, not memory.
* A sample goes into the smallest hole that holds it, written in place (nothing reads a hole). Only
  when no hole fits does the bank grow: a new, larger mapping (at least twice the size) into which
  the live samples are copied, at their same offsets, and one reference assignment publishes it; a
  render thread that still holds the old array keeps reading valid memory until it lets go.
* ``remove`` drops a sample: its range becomes a hole and the whole pages inside it are handed back
  to the system at once (``madvise(MADV_DONTNEED)``; where that is missing, the hole is only reused).
  The caller guarantees that no voice plays a sample it removes, nor will (``voice.lines`` keeps a
  line while a voice may play it).
"""

from __future__ import annotations

import bisect
import mmap
import os
import threading
from dataclasses import dataclass

import miniaudio
import numpy as np

from ..errors import AudioFileError, EngineError
from ..rt.guard import forbidden

_HEAD = 16
"""Silent floats at the start of the array: what the row of a removed sample points at."""
_PAD_FRAMES = 2
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
_PAGE_FLOATS = mmap.PAGESIZE // 4
_CHECK_FLOATS = 1 << 16


def _anonymous(floats: int) -> tuple[np.ndarray, mmap.mmap]:
    """A zero-filled float32 array over fresh anonymous memory (resident only where written)."""
    mm = mmap.mmap(-1, max(4 * floats, mmap.PAGESIZE))
    return np.frombuffer(mm, dtype=np.float32, count=floats), mm


@dataclass(frozen=True)
class SampleInfo:
    """Where a sample lives in the bank's flat array."""

    index: int
    name: str
    offset: int
    frames: int
    channels: int
    source: str = ""


class SampleBank:
    """Decoded samples, shared by every voice of an engine."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._lock = threading.Lock()  # serialises writers only; readers never lock
        self._infos: list[SampleInfo | None] = []
        self._by_name: dict[str, int] = {}
        self.data, self._mm = _anonymous(_HEAD)
        # Per-sample table read by the kernel: [offset, frames, channels]
        self.table = np.zeros((0, 3), dtype=np.int64)
        self._holes: list[tuple[int, int]] = []  # free (offset, length) ranges of data, sorted, merged
        self._free_rows: list[int] = []  # table rows of removed samples, reused by later ones
        self._used = 0  # floats held by live samples (padding included)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def nbytes(self) -> int:
        """Bytes of the flat array, spare capacity included (address space, not all resident)."""
        return int(self.data.nbytes)

    @property
    def used_bytes(self) -> int:
        """Bytes of live samples (padding included): what the bank holds in memory, give or take a
        page at the edge of each hole."""
        return 4 * (self._used + _HEAD)

    @property
    def free_bytes(self) -> int:
        """Bytes in holes: left by removed samples, or spare capacity (reused by the next samples)."""
        return 4 * sum(length for _, length in self._holes)

    @property
    def frees_memory(self) -> bool:
        """Whether removing a sample hands its pages back to the system (else holes stay resident
        until reused)."""
        return _DONTNEED is not None

    def largest_hole(self) -> int:
        """Bytes of the largest hole: a sample of at most this size (padding included) is stored
        without growing the array."""
        return 4 * max((length for _, length in self._holes), default=0)

    @staticmethod
    def footprint(frames: int, channels: int = 1) -> int:
        """Bytes a sample of ``frames`` x ``channels`` takes in the bank, padding included."""
        return 4 * (frames + _PAD_FRAMES) * channels

    def index(self, name: str) -> int:
        try:
            return self._by_name[name]
        except KeyError:
            from ..hints import suggestion

            close = suggestion(name, self._by_name)
            hint = f" ({close})" if close else ""
            raise EngineError(f"unknown sample '{name}'{hint}") from None

    def info(self, name_or_index: str | int) -> SampleInfo:
        idx = name_or_index if isinstance(name_or_index, int) else self.index(name_or_index)
        info = self._infos[idx]
        if info is None:
            raise EngineError(f"sample #{idx} was removed from the bank")
        return info

    def array(self, name: str) -> np.ndarray:
        """A (frames, channels) view of a stored sample (for tests and tools)."""
        info = self.info(name)
        flat = self.data[info.offset : info.offset + info.frames * info.channels]
        return flat.reshape(info.frames, info.channels)

    def add(self, name: str, samples: np.ndarray, source: str = "") -> int:
        """Store samples already at the engine rate: shape (n,) mono or (n, 2) stereo."""
        arr = np.asarray(samples, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] not in (1, 2):
            raise EngineError(f"sample '{name}': shape {arr.shape} must be (n,) or (n, 1|2)")
        if arr.shape[0] < 2:
            raise EngineError(f"sample '{name}': needs at least 2 frames, got {arr.shape[0]}")
        flat = arr.reshape(-1)
        for i in range(0, flat.size, _CHECK_FLOATS):  # in pieces: no temporary the size of the sample
            if not np.isfinite(flat[i : i + _CHECK_FLOATS]).all():
                raise EngineError(f"sample '{name}': contains NaN or infinite values")
        with self._lock:
            if name in self._by_name:
                raise EngineError(f"sample '{name}' is already in the bank")
            # Two frames of padding after each sample keep interpolation reads in bounds; they repeat
            # the first frames, so a looping voice interpolates across its loop point without a check.
            size = flat.size + _PAD_FRAMES * arr.shape[1]
            offset = self._take_hole(size)
            if offset is None:
                self._grow(size)
                offset = self._take_hole(size)
                assert offset is not None
            data = self.data  # written in place: nothing reads a hole
            data[offset : offset + flat.size] = flat
            data[offset + flat.size : offset + size] = arr[:_PAD_FRAMES].reshape(-1)
            row = self._free_rows.pop() if self._free_rows else len(self._infos)
            info = SampleInfo(row, name, offset, int(arr.shape[0]), int(arr.shape[1]), source)
            entry = np.array([[offset, info.frames, info.channels]], np.int64)
            if row == len(self._infos):
                new_table = np.vstack([self.table, entry])
                self._infos.append(info)
            else:
                new_table = self.table.copy()
                new_table[row] = entry[0]
                self._infos[row] = info
            self._by_name[name] = row
            self._used += size
            self.table = new_table  # the samples are in place before their row is published
            return row

    def reserve(self, nbytes: int) -> None:
        """Make sure a hole of ``nbytes`` exists, growing now (one copy of the live samples) rather
        than at some later ``add``: for a caller that will add many samples, like spoken lines."""
        floats = -(-int(nbytes) // 4)
        with self._lock:
            if 4 * max((length for _, length in self._holes), default=0) < 4 * floats:
                self._grow(floats)

    def remove(self, name: str) -> int:
        """Drop a sample no voice plays (nor will: its name and index must not be in use); returns
        the bytes released. Its range becomes a hole for later samples, and its whole pages go back
        to the system now."""
        with self._lock:
            row = self._by_name.get(name)
            if row is None:
                raise EngineError(f"remove: no sample '{name}' in the bank")
            info = self._infos[row]
            assert info is not None
            size = (info.frames + _PAD_FRAMES) * info.channels
            del self._by_name[name]
            self._infos[row] = None
            self._free_rows.append(row)
            self._used -= size
            new_table = self.table.copy()
            new_table[row] = (0, _PAD_FRAMES, 1)  # the silent head: a stale index reads zeros in bounds
            self.table = new_table
            start, length = self._free(info.offset, size)
            if _DONTNEED is not None:
                first = -(-start // _PAGE_FLOATS) * _PAGE_FLOATS
                last = (start + length) // _PAGE_FLOATS * _PAGE_FLOATS
                if last > first:
                    self._mm.madvise(_DONTNEED, 4 * first, 4 * (last - first))
            return 4 * size

    def _grow(self, size: int) -> None:
        """A new array with room for ``size`` more floats at its end (at least double the old one),
        holding the live samples at their offsets; holes are not copied, so they stay untouched."""
        old = self.data
        tail = self._holes[-1][1] if self._holes and sum(self._holes[-1]) == old.shape[0] else 0
        floats = max(old.shape[0] + size - tail, 2 * old.shape[0])
        new, mm = _anonymous(floats)
        new[:_HEAD] = old[:_HEAD]
        for info in self._infos:
            if info is not None:
                end = info.offset + (info.frames + _PAD_FRAMES) * info.channels
                new[info.offset : end] = old[info.offset : end]
        self._free(old.shape[0], floats - old.shape[0])
        self.data, self._mm = new, mm  # publish: the table's offsets are the same in both

    def _take_hole(self, size: int) -> int | None:
        """Offset of the smallest hole that holds ``size`` floats (the rest stays a hole), or None."""
        best = None
        for i, (_, length) in enumerate(self._holes):
            if length >= size and (best is None or length < self._holes[best][1]):
                best = i
        if best is None:
            return None
        start, length = self._holes[best]
        if length == size:
            del self._holes[best]
        else:
            self._holes[best] = (start + size, length - size)
        return start

    def _free(self, start: int, size: int) -> tuple[int, int]:
        """Add [start, start + size) to the holes, merged with its neighbours; returns the merged hole."""
        holes = self._holes
        i = bisect.bisect_left(holes, (start, 0))
        if i < len(holes) and start + size == holes[i][0]:
            size += holes.pop(i)[1]
        if i > 0 and holes[i - 1][0] + holes[i - 1][1] == start:
            start, size = holes[i - 1][0], holes[i - 1][1] + size
            del holes[i - 1]
            i -= 1
        holes.insert(i, (start, size))
        return start, size

    def load(self, name: str, path: str | os.PathLike) -> int:
        """Decode a WAV/FLAC/OGG/MP3 file with miniaudio and convert it once to the engine rate."""
        if name in self._by_name:
            return self._by_name[name]
        arr = decode_file(path, self.sample_rate)
        return self.add(name, arr, source=os.fspath(path))


@forbidden("asset decoding")  # never on the audio thread (rt/guard.py)
def decode_file(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Decode an audio file to float32 (frames, channels) at ``sample_rate``.

    miniaudio decodes at the file's own rate; the rate conversion is our windowed-sinc resampler
    (miniaudio's built-in linear resampler leaves THD+N around -50 dB on a 1 kHz tone).
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise AudioFileError(f"{p}: no such audio file")
    try:
        info = miniaudio.get_file_info(p)
        channels = 1 if info.nchannels == 1 else 2
        decoded = miniaudio.decode_file(
            p, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=channels, sample_rate=info.sample_rate
        )
    except (miniaudio.DecodeError, miniaudio.MiniaudioError, OSError, ValueError) as exc:
        raise AudioFileError(
            f"{p}: cannot decode audio ({exc}); supported: WAV, FLAC, OGG Vorbis, MP3"
        ) from exc
    arr = np.frombuffer(decoded.samples, dtype=np.float32).reshape(-1, channels).copy()
    if arr.shape[0] < 2:
        raise AudioFileError(f"{p}: file holds no audio frames")
    if decoded.sample_rate != sample_rate:
        from .dsp.resample import resample

        arr = np.ascontiguousarray(resample(arr, decoded.sample_rate, sample_rate), dtype=np.float32)
    return arr
