"""Generate the Godot 3 wire core (godot3/soundscape/) from the Godot 4 addon's wire core.

The Godot 4 files are the source. Two mechanical rules make the Godot 3 variant:

* a line ending in ``# godot3: CODE`` becomes ``CODE`` (same indentation): the few calls whose
  names differ (``poll()``, ``is_empty()``/``empty()``, ``slice``/``subarray``, ``Time``/``OS``);
* type and method names renamed in Godot 4 are mapped back (:data:`RENAMES`).

``python bindings/godot/tools/make_godot3.py`` rewrites the files; ``--check`` exits 1 if the
committed Godot 3 files differ from what would be generated (tests/test_bindings_sources.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SOURCE = HERE / "addons" / "soundscape"
TARGET = HERE / "godot3" / "soundscape"
FILES = ("msgpack.gd", "client.gd")

RENAMES = {
    "PackedByteArray": "PoolByteArray",
    "RefCounted": "Reference",
    "to_utf8_buffer()": "to_utf8()",
    "TYPE_FLOAT": "TYPE_REAL",
    "TYPE_PACKED_BYTE_ARRAY": "TYPE_RAW_ARRAY",
}
_MARK = re.compile(r"^(\s*)(.*?)\s*# godot3: (.*)$")


def convert(text: str, name: str) -> str:
    out = [f"# GENERATED from addons/soundscape/{name} by tools/make_godot3.py: do not edit by hand.", ""]
    for line in text.splitlines():
        m = _MARK.match(line)
        if m:
            line = m.group(1) + m.group(3)
        else:
            for old, new in RENAMES.items():
                line = line.replace(old, new)
        out.append(line)
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in FILES:
        want = convert((SOURCE / name).read_text(encoding="utf-8"), name)
        path = TARGET / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != want:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(want, encoding="utf-8")
    if stale:
        print("out of date (run bindings/godot/tools/make_godot3.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
