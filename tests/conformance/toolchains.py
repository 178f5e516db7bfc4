"""Find and use the bindings' toolchains; skip (with the install command) only when one is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDINGS = ROOT / "bindings"


def _zmq_header() -> bool:
    if shutil.which("pkg-config"):
        ok = subprocess.run(["pkg-config", "--exists", "libzmq"], capture_output=True).returncode == 0
        if ok:
            return True
    return any(Path(p, "zmq.h").exists() for p in ("/usr/include", "/usr/local/include"))


def require_c() -> None:
    if not shutil.which("gcc") or not shutil.which("make"):
        pytest.skip("C binding: gcc/make not installed (apt-get install gcc make)")
    if not _zmq_header():
        pytest.skip("C binding: libzmq headers not installed (apt-get install libzmq3-dev)")


def build_c(out: Path) -> None:
    """``make`` the C client library and its example into ``out``."""
    subprocess.run(
        ["make", "-s", "-C", str(BINDINGS / "c"), f"OUT={out}"], check=True, capture_output=True, text=True
    )


def require_mono() -> None:
    if not shutil.which("mcs") or not shutil.which("mono"):
        pytest.skip("C# binding: mono not installed (apt-get install mono-mcs mono-runtime)")


def godot3() -> str:
    for name in ("godot3-server", "godot3-runner", "godot3", "godot-server"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("GDScript binding: no Godot 3 runtime (apt-get install godot3-server)")
    raise AssertionError  # unreachable


def build_cs_console(out: Path, program: Path, name: str, unity: bool = False) -> Path:
    """Compile the Unity package's engine-independent core with a console program (mcs, C# 7);
    with ``unity``, also the components and the UnityEngine stub."""
    core = sorted(str(p) for p in (BINDINGS / "unity/Runtime/Core").glob("*.cs"))
    if unity:
        core += sorted(str(p) for p in (BINDINGS / "unity/Runtime/Components").glob("*.cs"))
        core.append(str(Path(__file__).parent / "unity_stub" / "UnityEngine.cs"))
    exe = out / name
    proc = subprocess.run(
        ["mcs", "-langversion:7", "-warnaserror+", f"-out:{exe}", "-r:System.dll", *core, str(program)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return exe


def godot_env() -> dict[str, str]:
    """A UTF-8 locale: Godot 3 complains about "C" (harmless, but noisy)."""
    return {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def godot3_project(folder: Path, script: Path) -> Path:
    """A throw-away Godot 3 project: the generated wire core under res://soundscape/ and `script`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "project.godot").write_text("config_version=4\n", encoding="utf-8")
    shutil.copytree(BINDINGS / "godot/godot3/soundscape", folder / "soundscape", dirs_exist_ok=True)
    shutil.copy(script, folder / script.name)
    return folder
