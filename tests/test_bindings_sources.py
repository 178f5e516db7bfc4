"""The bindings' sources: generated files in sync, linted, compiled; msgpack codecs against msgpack-python.

What runs where (also in docs/godot.md and bindings/unity/README.md):
* the Godot 3 wire core is generated from the Godot 4 addon and must be up to date;
* the Godot 4 addon is parsed and linted with gdtoolkit (no Godot 4 runtime on Debian 12);
* the Unity components and sample compile with mcs against a UnityEngine stub (tests/conformance/unity_stub);
* the C# and GDScript msgpack codecs decode and re-encode a corpus to msgpack-python's exact bytes;
* the C header compiles as C++ too (Unreal and most native engines are C++);
* every client offers every message of the protocol table (conformance/coverage.py).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
from conformance import coverage, toolchains
from conformance.run import wire_record

from middleware.transport import protocol as P

ROOT = Path(__file__).resolve().parent.parent
GODOT = ROOT / "bindings" / "godot"
UNITY = ROOT / "bindings" / "unity"
HERE = Path(__file__).parent / "conformance"


def test_godot3_core_is_generated_from_the_godot4_addon() -> None:
    proc = subprocess.run(
        [sys.executable, str(GODOT / "tools" / "make_godot3.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_godot4_addon_parses_and_lints() -> None:
    """gdtoolkit's Godot 4 grammar and linter over every script of the addon (parse only: no Godot 4 here)."""
    gdparse, gdlint = shutil.which("gdparse"), shutil.which("gdlint")
    if not gdparse or not gdlint:
        pytest.skip("gdtoolkit not installed (pip install 'gdtoolkit>=4,<5')")
    scripts = sorted(str(p) for p in (GODOT / "addons" / "soundscape").glob("*.gd"))
    assert len(scripts) >= 6
    parsed = subprocess.run([gdparse, *scripts], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    linted = subprocess.run([gdlint, *scripts], capture_output=True, text=True, cwd=GODOT)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    cfg = (GODOT / "addons" / "soundscape" / "plugin.cfg").read_text(encoding="utf-8")
    assert 'script="plugin.gd"' in cfg


def test_unity_components_compile_against_the_stub(tmp_path: Path) -> None:
    toolchains.require_mono()
    sources = [
        *sorted(str(p) for p in (UNITY / "Runtime").rglob("*.cs")),
        *sorted(str(p) for p in (UNITY / "Samples~").rglob("*.cs")),
        str(HERE / "unity_stub" / "UnityEngine.cs"),
    ]
    out = tmp_path / "Soundscape.Runtime.dll"
    flags = ["-langversion:7", "-warnaserror+", "-target:library", f"-out:{out}", "-r:System.dll"]
    proc = subprocess.run(
        ["mcs", *flags, *sources],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    pkg = json.loads((UNITY / "package.json").read_text(encoding="utf-8"))
    asmdef = json.loads((UNITY / "Runtime" / "Soundscape.Runtime.asmdef").read_text(encoding="utf-8"))
    assert pkg["name"] == "org.soundscape.client" and pkg["samples"][0]["path"] == "Samples~/Basic"
    assert asmdef["name"] == "Soundscape.Runtime"


def _corpus() -> list[object]:
    """Values whose msgpack-python encoding is canonical (every float is float64): each size class."""
    rng = random.Random(8)
    ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53, -1, -32, -33, -128, -129]
    ints += [-32768, -32769, -(2**31), -(2**31) - 1, -(2**53)]
    strings = ["", "a" * 31, "b" * 32, "c" * 255, "d" * 256, "é" * 40000, "Tür-ドア-🚪"]
    values: list[object] = [None, True, False, 0.5, -1.7, 1e300, *ints, *strings]
    values.append([1, 2.5, "x", None, [True, {"k": -3}]])
    values.append(list(range(16)))
    values.append({f"k{i}": i * 0.25 for i in range(16)})
    values.append({"v": 1, "type": "ok", "re": "hello", "scene": {"events": ["ping"], "größe": [0.1, 1.7]}})
    values.append([rng.uniform(-1e6, 1e6) for _ in range(70000)])  # array32
    return values


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[str]]:
    values = _corpus()
    path = tmp_path_factory.mktemp("msgpack") / "corpus.hex"
    packed = [msgpack.packb(v, use_bin_type=True).hex() for v in values]
    path.write_text("\n".join(packed) + "\n", encoding="utf-8")
    return path, packed


def test_csharp_msgpack_matches_msgpack_python(corpus, tmp_path: Path) -> None:
    toolchains.require_mono()
    path, want = corpus
    exe = toolchains.build_cs_console(tmp_path, HERE / "MsgPackRoundTrip.cs", "roundtrip.exe")
    out = subprocess.run(["mono", str(exe), str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = out.stdout.split()
    assert len(got) == len(want)
    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert not bad, f"values {bad} differ after a C# decode/encode"


def test_gdscript_msgpack_matches_msgpack_python(corpus, tmp_path: Path) -> None:
    godot = toolchains.godot3()
    path, want = corpus
    project = toolchains.godot3_project(tmp_path / "project", HERE / "msgpack_roundtrip_godot3.gd")
    cmd = [godot, "--no-window", "--path", str(project), "-s", "msgpack_roundtrip_godot3.gd", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=toolchains.godot_env())
    assert out.returncode == 0 and "SCRIPT ERROR" not in out.stderr, out.stderr
    got = [line[3:] for line in out.stdout.splitlines() if line.startswith("@@ ")]
    assert len(got) == len(want)
    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert not bad, f"values {bad} differ after a GDScript decode/encode"


def test_c_header_is_valid_cpp(tmp_path: Path) -> None:
    toolchains.require_c()
    if not shutil.which("g++"):
        pytest.skip("g++ not installed (apt-get install g++)")
    src = tmp_path / "use.cpp"
    src.write_text('#include "soundscape.h"\nint main() { return ss_connect("tcp://x:1", 1) ? 0 : 1; }\n')
    proc = subprocess.run(
        ["g++", "-std=c++11", "-Wall", "-Werror", "-fsyntax-only", "-I", str(ROOT / "bindings/c"), str(src)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("language", sorted(coverage.BINDINGS))
def test_every_binding_offers_every_message_of_the_protocol(language: str) -> None:
    """Declared calls = the table's messages (and batch items); each defined, documented, encoded."""
    gaps = coverage.source_gaps(language, coverage.BINDINGS[language])
    assert not gaps, "\n".join(gaps)


def test_the_python_client_offers_every_message_of_the_protocol() -> None:
    gaps = coverage.python_gaps()
    assert not gaps, "\n".join(gaps)


def test_a_message_added_to_the_table_fails_the_coverage_checks() -> None:
    """The checks are derived from the table: a new message, or a new field, is named as missing."""
    new = P.Message("fly", 999, "a message no client has", (P.Field("height", "number", "m", lo=0, hi=1),))
    table = {**P.MESSAGES, "fly": new}
    for language, binding in coverage.BINDINGS.items():
        gaps = coverage.source_gaps(language, binding, table)
        assert f"{language}: declared calls: no 'fly' (the protocol table has it)" in gaps
        assert f"{language}: declared batch items: no 'fly' (the protocol table has it)" in gaps
        assert any("encoded" in g and "no 'fly'" in g for g in gaps)
        assert any("field 'height' of 'fly' is never written" in g for g in gaps)
    assert "Python: declared calls: no 'fly' (the protocol table has it)" in coverage.python_gaps(table)
    assert "Python: Batch methods: no 'fly' (the protocol table has it)" in coverage.python_gaps(table)
    # on the wire: the table's own examples, as a client would send them
    wire = [wire_record(P.pack(m.example)) for m in P.MESSAGES.values()]
    gaps = coverage.wire_gaps(wire, table)
    assert "never sent: 'fly'" in gaps and "never sent as a batch item: 'fly'" in gaps
    assert "fly: field 'height' never sent" in gaps
    assert "never sent: 'hello'" not in gaps  # what was sent is not reported
