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
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from middleware.errors import ProtocolError
from middleware.transport import protocol as P

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


class WireTap:
    """A ROUTER on the client's command port that forwards each message to the daemon and back.

    It records what the client put on the wire, decoded with msgpack and checked with
    ``protocol.validate``, *before* the daemon normalises it (an int sent where Python sends a
    float, or a float32, shows up here). Closing it drops the client's TCP connection, like a
    daemon restart does.
    """

    def __init__(self, port: int, backend: str) -> None:
        self.ctx = zmq.Context()
        self.front = self.ctx.socket(zmq.ROUTER)
        self.back = self.ctx.socket(zmq.DEALER)
        for sock in (self.front, self.back):
            sock.setsockopt(zmq.LINGER, 0)
        self.front.bind(f"tcp://127.0.0.1:{port}")
        self.back.connect(backend)
        self.records: list[str] = []
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self.front, zmq.POLLIN)
        poller.register(self.back, zmq.POLLIN)
        identity = b""
        while self._running:
            for sock, _ in poller.poll(20):
                if sock is self.front:
                    frames = self.front.recv_multipart()
                    identity = frames[0]
                    self.records.append(wire_record(frames[-1]))
                    self.back.send(frames[-1])
                else:
                    self.front.send_multipart([identity, self.back.recv()])

    def close(self) -> list[str]:
        self._running = False
        self._thread.join(5)
        self.front.close()
        self.back.close()
        self.ctx.term()
        return self.records


def _typed(value: object) -> object:
    """msgpack value with its type made explicit; maps sorted by key (their order is not meaning)."""
    if isinstance(value, dict):
        return {"map": [[k, _typed(v)] for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, str):
        return value
    return {type(value).__name__: repr(value)}


def wire_record(payload: bytes) -> str:
    try:
        raw = P.unpack(payload)
        P.validate(raw)
    except ProtocolError as exc:
        return f"INVALID {exc.code}: {exc}"
    return json.dumps(_typed(raw), ensure_ascii=False)


@dataclass
class Result:
    transcript: list[str]
    records1: list[dict]
    records2: list[dict]
    stderr: str
    returncode: int
    wire: list[str] = field(default_factory=list)


def run_client(
    argv: list[str],
    workdir: Path,
    timeout: float = 60.0,
    env: dict | None = None,
    after: Callable[[Daemon], None] | None = None,
    prefix: str = "",
) -> Result:
    """Daemon A; client part 1; daemon A stops, daemon B starts on the same ports; client part 2.

    The client's command connection goes through a :class:`WireTap` (restarted with the daemon).
    ``after(daemon)`` runs while daemon B is still up (more checks without another start-up).
    With ``prefix``, only output lines starting with it are the transcript (an engine's banner
    is not).
    """
    cmd_port, daemon_port, pub_port = free_port(), free_port(), free_port()
    rec1, rec2, go = workdir / "records1.jsonl", workdir / "records2.jsonl", workdir / "go"
    for p in (rec1, rec2, go):
        p.unlink(missing_ok=True)
    d = Daemon(daemon_port, pub_port, rec1).start()
    tap = WireTap(cmd_port, d.cmd)
    wire: list[str] = []
    client = None
    lines: list[str] = []
    records2: list[dict] = []
    err, rc = "", -9
    try:
        client = subprocess.Popen(
            [*argv, f"tcp://127.0.0.1:{cmd_port}", d.pub, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )
        watchdog = threading.Timer(timeout, client.kill)  # a hung client must not hang the test
        watchdog.start()
        try:
            while line := client.stdout.readline():
                if line.startswith(prefix):
                    lines.append(line[len(prefix) :].rstrip("\n"))
                if lines and lines[-1] == "part1":
                    break
            wire += [*tap.close(), "restart"]
            d.stop()
            d = Daemon(daemon_port, pub_port, rec2).start()
            tap = WireTap(cmd_port, d.cmd)
            go.write_text("go")
            out, err = client.communicate()
        finally:
            watchdog.cancel()
        lines += [x[len(prefix) :] for x in out.splitlines() if x.startswith(prefix)]
        rc = client.returncode
        records2 = read_records(rec2)  # before `after` adds calls of its own
        if after is not None and rc == 0:
            after(d)
    finally:
        wire += tap.close()
        d.stop()
        if client is not None and client.poll() is None:
            client.kill()
    return Result(lines, read_records(rec1), records2, err, rc, wire)


if __name__ == "__main__":
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        res = run_client(argv, Path(tmp))
    print("\n".join(res.transcript))
    for r in [*res.records1, {"restart": True}, *res.records2]:
        print(json.dumps(r, ensure_ascii=False))
    print("\n".join(res.wire))
    print(res.stderr, file=sys.stderr)
    raise SystemExit(res.returncode)
