"""Run one conformance client (SCRIPT.md) against a real daemon, restarting the daemon half-way.

Used by tests/test_bindings_conformance.py; also runnable by hand to debug a binding:
``python tests/conformance/run.py -- ./client_c`` prints the transcript and the records.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Daemon:
    """``soundscape serve --recording`` on fixed ports, recording every decoded call to a file."""

    cmd_port: int
    pub_port: int
    record: Path
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen | None = None
    info: dict = field(default_factory=dict)

    @property
    def cmd(self) -> str:
        return f"tcp://127.0.0.1:{self.cmd_port}"

    @property
    def pub(self) -> str:
        return f"tcp://127.0.0.1:{self.pub_port}"

    def start(self) -> Daemon:
        args = [sys.executable, "-m", "middleware.cli", "serve", "--recording", "--backend", "null",
                "--bind", self.cmd, "--pub", self.pub, "--record", str(self.record), "--json",
                "--lookahead", "8", *self.extra]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            self.proc.wait()
            raise RuntimeError(f"daemon did not start: {err.strip()[-2000:]}")
        self.info = json.loads(line)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        self.proc = None


def read_records(path: Path) -> list[dict]:
    """The daemon's records, with scheduled frames relative to the client's clock anchor.

    A client's first timestamped message anchors its game clock to "now + schedule latency", a
    frame that depends on when it arrived; every later timestamp is exact relative to it. So frames
    are compared as offsets from the first scheduled record (the anchor).
    """
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    anchor = next((r["at_frame"] for r in rows if r.get("at_frame") is not None), None)
    for r in rows:
        if r.get("at_frame") is not None:
            r["at_frame"] = r["at_frame"] - anchor
    return rows


@dataclass
class Result:
    transcript: list[str]
    records1: list[dict]
    records2: list[dict]
    stderr: str
    returncode: int


def run_client(
    argv: list[str],
    workdir: Path,
    timeout: float = 60.0,
    env: dict | None = None,
    after: Callable[[Daemon], None] | None = None,
    prefix: str = "",
) -> Result:
    """Daemon A; client part 1; daemon A stops, daemon B starts on the same ports; client part 2.

    ``after(daemon)`` runs while daemon B is still up (more checks without another start-up).
    With ``prefix``, only output lines starting with it are the transcript (an engine's banner
    is not).
    """
    cmd_port, pub_port = free_port(), free_port()
    rec1, rec2, go = workdir / "records1.jsonl", workdir / "records2.jsonl", workdir / "go"
    for p in (rec1, rec2, go):
        p.unlink(missing_ok=True)
    d = Daemon(cmd_port, pub_port, rec1).start()
    client = None
    lines: list[str] = []
    try:
        client = subprocess.Popen(
            [*argv, d.cmd, d.pub, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )
        deadline = time.monotonic() + timeout
        while True:
            line = client.stdout.readline()
            if not line:
                break
            if line.startswith(prefix):
                lines.append(line[len(prefix) :].rstrip("\n"))
            if lines and lines[-1] == "part1":
                break
        d.stop()
        d = Daemon(cmd_port, pub_port, rec2).start()
        go.write_text("go")
        out, err = client.communicate(timeout=max(1.0, deadline - time.monotonic()))
        lines += [x[len(prefix) :] for x in out.splitlines() if x.startswith(prefix)]
        rc = client.returncode
        records2 = read_records(rec2)  # before `after` adds calls of its own
        if after is not None:
            after(d)
    except subprocess.TimeoutExpired:
        client.kill()
        out, err = client.communicate()
        lines += out.splitlines()
        rc = -9
        records2 = read_records(rec2)
    finally:
        d.stop()
        if client is not None and client.poll() is None:
            client.kill()
    return Result(lines, read_records(rec1), records2, err, rc)


if __name__ == "__main__":
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        res = run_client(argv, Path(tmp))
    print("\n".join(res.transcript))
    for r in [*res.records1, {"restart": True}, *res.records2]:
        print(json.dumps(r, ensure_ascii=False))
    print(res.stderr, file=sys.stderr)
    raise SystemExit(res.returncode)
