"""What the protocol promises, held against a real daemon (issue 18).

"ok" means accepted: whatever the network process can know is checked before it replies, with the
documented code, so no ``ok`` is followed by a refusal on the ``error`` topic. A scene swap switches
validation atomically. And docs/protocol.md says what the daemon does: where the doc states a
fact the code can be asked about (a topic, a key, a limit, a default), a test reads it from the doc.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from test_daemon import start_daemon, stop_daemon
from test_daemon_robust import write_scenes

from middleware import config
from middleware.client import Client, Subscriber
from middleware.daemon import DaemonOptions
from middleware.errors import ProtocolError
from middleware.transport import protocol as P
from middleware.transport import server as S

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
MAX_SCHEDULED = 16


class Live:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc, self.info = start_daemon("--max-scheduled", str(MAX_SCHEDULED), scene=write_scenes(root))
        self.ctx = zmq.Context()
        self.sub = Subscriber(self.info["pub"], ["error"], context=self.ctx)
        self.client = Client(self.info["bind"], name="promises", context=self.ctx, timeout=10.0)
        self.client.hello()
        time.sleep(0.3)

    def new_client(self, name: str) -> Client:
        c = Client(self.info["bind"], name=name, context=self.ctx, timeout=10.0)
        c.hello()
        return c

    def reply(self, msg: dict, rid: int, client: Client | None = None) -> dict:
        c = client or self.client
        c.send_raw(msgpack.packb({"v": 1, **msg, "id": rid}))
        try:
            return {"code": None, "field": None, **c.wait_reply(rid)}  # ok: no code (asserts say so)
        except ProtocolError as exc:
            return {"type": "error", "code": exc.code, "field": exc.where or None, "message": str(exc)}

    def late_errors(self, wait: float = 0.5) -> list[dict]:
        """Errors published after a barrier: what an `ok` might have been followed by."""
        self.client.sync()
        out = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            got = self.sub.recv(left)
            if got is not None:
                out.append(got[1])
        return out

    def drain(self) -> None:
        while self.sub.recv(0.05) is not None:
            pass


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    d = Live(tmp_path_factory.mktemp("promises"))
    yield d
    d.ctx.destroy(linger=0)
    code, err = stop_daemon(d.proc)
    assert code == 0, err


def _refusals_after_ok(errors: list[dict], ok_ids: set[int]) -> list[dict]:
    return [
        e for e in errors if e.get("id") in ok_ids or (e.get("id") is None and e.get("code") != "internal")
    ]


# ------------------------------------------------------------------------- a scene swap is atomic
def test_load_scene_replies_with_the_new_scene_and_validation_switches_with_it(live):
    """load_scene replied with the old scene's description, and for a while the network process still
    validated against the old scene (the new scene's names refused, the old ones answered ok and then
    rejected by the audio process)."""
    live.drain()
    scene = live.client.load_scene("b.yaml")
    assert scene["name"] == "beta" and "threat" in scene["parameters"]
    assert "intensity" not in scene["parameters"]
    live.client.set_param("threat", 0.7, sync=True)  # right away: the new scene's name is accepted
    reply = live.reply({"type": "set_param", "name": "intensity", "value": 0.5}, 11)
    assert (reply["code"], reply["field"]) == ("unknown_name", "name")  # the old one is refused at once
    assert live.client.hello()["scene"]["name"] == "beta"
    assert [e for e in live.late_errors() if e.get("id") != 11] == []  # nothing refused after an ok
    assert live.client.load_scene("a.yaml")["name"] == "alpha"


def test_validation_switches_atomically_while_another_client_streams(live):
    """One client streams requests valid only in scene alpha while another swaps to beta and back:
    each request is either refused at once (checked against beta) or accepted and applied (checked
    against alpha); none is answered ok and then refused."""
    live.drain()
    stream = live.new_client("stream")
    ok_ids: set[int] = set()
    refused: list[dict] = []
    stop = threading.Event()

    def run() -> None:
        rid = 50_000
        while not stop.is_set():
            rid += 1
            reply = live.reply({"type": "set_state", "group": "weather", "value": "rain"}, rid, stream)
            if reply["type"] == "ok":
                ok_ids.add(rid)
            else:
                refused.append(reply)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        for _ in range(3):
            time.sleep(0.2)
            assert live.client.load_scene("b.yaml")["name"] == "beta"
            time.sleep(0.2)
            assert live.client.load_scene("a.yaml")["name"] == "alpha"
    finally:
        stop.set()
        worker.join()
    stream.sync()
    errors = live.late_errors(1.0)
    stream.close()
    assert ok_ids and refused  # both sides of the swaps were seen
    assert {r["code"] for r in refused} == {"unknown_name"}
    assert _refusals_after_ok(errors, ok_ids) == []


# ------------------------------------------------------------------- "ok" means accepted
def test_listener_axes_are_checked_before_the_reply(live):
    """A listener with a zero or parallel forward/up was answered ok, then refused by the engine."""
    live.drain()
    cases = [
        ({"position": [0, 0, 0], "forward": [0.0, 0.0, 0.0]}, "forward"),
        ({"position": [0, 0, 0], "forward": [0.0, 1.0, 0.0]}, "up"),  # parallel to the default up
        ({"position": [0, 0, 0], "forward": [0.0, 0.0, -1.0], "up": [0.0, 0.0, 2.0]}, "up"),
        ({"position": [0.0, 0.0, 0.0], "up": [0.0, 0.0, 0.0]}, "up"),
    ]
    for i, (fields, where) in enumerate(cases):
        reply = live.reply({"type": "listener", **fields}, 100 + i)
        assert (reply["code"], reply["field"]) == ("out_of_range", where), reply
    batch = live.reply({"type": "batch", "items": [{"type": "listener", **cases[1][0]}]}, 110)
    assert (batch["code"], batch["field"]) == ("out_of_range", "items[0].up")
    ok = live.reply({"type": "listener", "position": [0.0, 0.0, 0.0], "forward": [1.0, 0.0, 0.0]}, 111)
    assert ok["type"] == "ok"
    assert _refusals_after_ok(live.late_errors(), {111}) == []


def test_time_beyond_the_horizon_is_refused_before_the_reply(live):
    """t more than 60 s ahead was answered ok and refused later on the error topic, without the id."""
    c = live.new_client("horizon")
    c.sync(t=0.0)
    live.drain()
    far = live.reply({"type": "set_state", "group": "weather", "value": "rain", "t": 61.0}, 200, c)
    assert (far["code"], far["field"]) == ("out_of_range", "t"), far
    near = live.reply({"type": "set_state", "group": "weather", "value": "rain", "t": 58.0}, 201, c)
    assert near["type"] == "ok"
    assert _refusals_after_ok(live.late_errors(), {201}) == []
    c.close()


def test_the_schedule_cap_is_per_client_and_answered(live):
    """5,000 timed messages were all answered ok and the ones beyond --max-scheduled dropped quietly;
    one client's backlog made another client's first timed message fail."""
    greedy, other = live.new_client("greedy"), live.new_client("other")
    greedy.sync(t=0.0)
    other.sync(t=0.0)
    live.drain()
    replies = [
        live.reply(
            {"type": "set_state", "group": "weather", "value": "rain", "t": 20.0 + i * 0.01}, 300 + i, greedy
        )
        for i in range(MAX_SCHEDULED + 10)
    ]
    ok_ids = {300 + i for i, r in enumerate(replies) if r["type"] == "ok"}
    assert len(ok_ids) == MAX_SCHEDULED
    assert all((r["code"], r["field"]) == ("limit", "t") for r in replies[MAX_SCHEDULED:])
    theirs = live.reply({"type": "set_state", "group": "weather", "value": "clear", "t": 20.0}, 400, other)
    assert theirs["type"] == "ok"  # another client's backlog does not count against this one
    assert _refusals_after_ok(live.late_errors(), ok_ids | {400}) == []
    greedy.close()
    other.close()


def test_the_instance_cap_is_declared_once():
    """The network process handed out ids up to 4096 while the runtime refused beyond 256 ("ok", an id,
    then "cap 256" on the error topic): one declaration now, which both use."""
    from middleware.scene import runtime

    for module in (runtime, S):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert not re.search(r"^MAX_(INSTANCES|OBJECTS)\s*=", source, re.M), module.__name__
    assert (runtime.MAX_INSTANCES, runtime.MAX_OBJECTS) == (config.MAX_INSTANCES, config.MAX_OBJECTS)
    assert DaemonOptions().max_instances == config.MAX_INSTANCES


def test_instances_beyond_the_cap_are_refused_with_limit(tmp_path):
    scene = write_scenes(tmp_path)  # drone may play the runtime's whole cap: none is stolen meanwhile
    cap = f"max_instances: {config.MAX_INSTANCES}"
    scene.write_text(scene.read_text().replace("max_instances: 256", cap))
    proc, info = start_daemon(scene=scene)
    ctx = zmq.Context()
    try:
        sub = Subscriber(info["pub"], ["error"], context=ctx)
        c = Client(info["bind"], context=ctx, timeout=10.0)
        time.sleep(0.3)
        ids = []
        for lo in range(0, config.MAX_INSTANCES, P.MAX_BATCH):  # the cap's worth of looping instances
            with c.batch() as b:
                for _ in range(min(P.MAX_BATCH, config.MAX_INSTANCES - lo)):
                    b.trigger("drone")
            ids += [r["instance"] for r in b.results]
        assert len(set(ids)) == config.MAX_INSTANCES
        with pytest.raises(ProtocolError) as err:
            c.trigger("drone")
        assert (err.value.code, err.value.where) == ("limit", "event")
        c.sync()
        late = []
        while (got := sub.recv(0.5)) is not None:
            late.append(got[1])
        # the refusal itself is published too; nothing else is (no instance was accepted, then refused)
        assert [(e["re"], e["code"]) for e in late] == [("trigger", "limit")], late
        for lo in range(0, len(ids), P.MAX_BATCH):
            with c.batch() as b:
                for iid in ids[lo : lo + P.MAX_BATCH]:
                    b.stop(iid, release=False)
    finally:
        ctx.destroy(linger=0)
        stop_daemon(proc)


def test_max_instances_above_the_runtime_cap_is_refused_at_start():
    out = subprocess.run(
        [sys.executable, "-m", "middleware.cli", "serve", "--recording", "--backend", "null",
         "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
         "--max-instances", str(config.MAX_INSTANCES + 1)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and f"1..{config.MAX_INSTANCES}" in out.stderr, out.stderr


def test_instance_parameters_and_stingers_are_checked_before_the_reply(live):
    """Unknown instance parameters (and stingers) were answered ok, then rejected by the runtime."""
    live.drain()
    unknown = live.reply({"type": "trigger", "event": "ping", "params": {"pich": 1.0}}, 500)
    assert (unknown["code"], unknown["field"]) == ("unknown_name", "params")
    assert "pitch" in unknown["message"]  # the event's own parameter is suggested
    wide = live.reply({"type": "trigger", "event": "ping", "params": {"pitch": 5.0}}, 501)
    assert (wide["code"], wide["field"]) == ("out_of_range", "params.pitch")
    stinger = live.reply({"type": "stinger", "name": "hti"}, 502)
    assert (stinger["code"], stinger["field"]) == ("unknown_name", "name")
    fine = [
        live.reply({"type": "trigger", "event": "ping", "params": {"pitch": 1.5, "intensity": 0.2}}, 503),
        live.reply({"type": "stinger", "name": "hit"}, 504),
    ]
    assert [r["type"] for r in fine] == ["ok", "ok"]
    assert _refusals_after_ok(live.late_errors(), {503, 504}) == []


def test_a_client_flooding_errors_does_not_hide_another_client_s(live):
    """Caps are per client where one client can starve another: the error topic's budget too."""
    noisy, quiet = live.new_client("noisy"), live.new_client("quiet")
    live.drain()
    for _ in range(3 * S.ERROR_PUBS_PER_SECOND):
        noisy.send_raw(msgpack.packb({"v": 1, "type": "set_param", "name": "nope", "value": 1}))
    noisy.sync()  # all of them handled, within the same second
    quiet.send_raw(msgpack.packb({"v": 1, "type": "set_param", "name": "nope", "value": 1}))
    quiet.sync()
    errors = live.late_errors(0.5)
    noisy.close()
    quiet.close()
    assert sum(1 for e in errors if e["client"] == "noisy") <= S.ERROR_PUBS_PER_SECOND
    assert [e["code"] for e in errors if e["client"] == "quiet"] == ["unknown_name"]


# --------------------------------------------------------------------------- the doc's claims
def _doc_section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n## ", start + len(title))
    return DOC[start : end if end > 0 else len(DOC)]


def test_an_integer_map_key_is_not_a_map_and_still_answered(live):
    """The doc says `not_a_map` for a map whose keys are not strings; it was `bad_msgpack`."""
    live.client.send_raw(msgpack.packb({"v": 1, "type": "set_param", "id": 600, 1: 2}))
    with pytest.raises(ProtocolError) as err:
        live.client.wait_reply(600)  # the id is still found and answered
    assert err.value.code == "not_a_map"
    assert "not_a_map" in DOC and "not a msgpack map with string keys" in DOC


def test_path_traversal_is_a_scene_error(live):
    """load_scene documents `scene_error` (and `busy`); a path outside the folder said `out_of_range`."""
    assert "Errors besides the structural ones: `scene_error`, `busy`." in _doc_section("### `load_scene`")
    for i, path in enumerate(["../a.yaml", "/etc/hostname.yaml", "sub/../../a.yaml"]):
        reply = live.reply({"type": "load_scene", "path": path}, 700 + i)
        assert (reply["code"], reply["field"]) == ("scene_error", "path"), reply


def test_error_payloads_carry_every_documented_key(live):
    """Rejected payloads lacked `id` (and refusals from the audio process lacked more)."""
    row = next(line for line in _doc_section("### Telemetry").splitlines() if line.startswith("| `error`"))
    keys = set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", row.split("|")[3].split(";")[0])))
    assert keys == {"re", "id", "code", "field", "message", "client"}
    live.drain()
    live.reply({"type": "set_param", "name": "nope", "value": 1}, 800)
    live.client.send_raw(b"\xc1")  # fire-and-forget garbage: published without an id
    got = [e for e in live.late_errors() if e.get("id") == 800 or e.get("code") == "bad_msgpack"]
    assert len(got) == 2
    for e in got:
        assert keys <= set(e), e
    assert {e["client"] for e in got} == {"promises"}


def test_stats_net_has_every_key_the_doc_names(live):
    """The doc lists `net` {received, invalid, dropped, ...}; there was no `dropped`."""
    reply = _doc_section("### `stats`")
    named = re.search(r"`net` \{([^}]*)\}", reply).group(1)
    keys = [k.strip() for k in named.split(",") if k.strip() and k.strip() != "..."]
    net = live.client.stats()["net"]
    assert keys and [k for k in keys if k not in net] == []


def _published_topics() -> set[str]:
    """Every topic the daemon can publish, read from the code that publishes them."""
    topics: set[str] = set()
    for path in [
        *sorted((ROOT / "middleware" / "scene").glob("*.py")),
        *sorted((ROOT / "middleware" / "daemon").glob("*.py")),
    ]:
        text = path.read_text(encoding="utf-8")
        topics |= set(re.findall(r'events\.append\(\(\s*"([a-z_]+)"', text))  # the runtime's events
        topics |= set(re.findall(r'\["pub",\s*\[\["([a-z_]+)"', text))  # the audio process's own
        topics |= set(re.findall(r'out\.append\(\["([a-z_]+)", payload\]\)', text))  # instance_out
    text = (ROOT / "middleware" / "transport" / "server.py").read_text(encoding="utf-8")
    topics |= set(re.findall(r'\.publish\("([a-z_]+)"', text))
    return topics


def test_every_published_topic_is_in_the_telemetry_table():
    """`say`, `reloaded` and `music_segment` were published but not in the table."""
    table = _doc_section("### Telemetry")
    documented = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            documented |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    published = _published_topics()
    assert {"say", "reloaded", "music_segment", "instance_out", "error", "audio"} <= published
    assert sorted(published - documented) == []


def _doc_number(pattern: str) -> float:
    m = re.search(pattern, DOC)
    assert m is not None, pattern
    return float(m.group(1))


def test_limits_in_the_doc_are_the_code_s():
    limits = _doc_section("## Limits and security")
    assert _doc_number(r"Names: (\d+) characters") == P.MAX_NAME_LEN
    assert _doc_number(r"Batches: (\d+) items") == P.MAX_BATCH
    assert _doc_number(r"Instance parameters: (\d+)") == P.MAX_PARAMS
    assert _doc_number(r"\|x\| <= ([0-9e.]+) m") == P.MAX_COORD
    assert _doc_number(r"speeds <= ([0-9e.]+) m/s") == P.MAX_SPEED
    assert _doc_number(r"`--max-instances` \(default (\d+)") == config.MAX_INSTANCES
    assert _doc_number(r"Game objects: (\d+) names") == config.MAX_OBJECTS
    assert _doc_number(r"`--max-message-bytes`[^,]*, default (\d+) KiB") * 1024 == P.DEFAULT_MAX_MESSAGE_BYTES
    assert _doc_number(r"at most (\d+) per second of each client") == S.ERROR_PUBS_PER_SECOND
    assert _doc_number(r"and (\d+) in\s+all") == S.ERROR_PUBS_PER_SECOND * S.ERROR_PUBS_TOTAL_FACTOR
    assert _doc_number(r"`--max-scheduled` \(default (\d+)\)") == DaemonOptions().max_scheduled
    assert _doc_number(r"(\d+) times that across all clients") == S.SCHEDULED_TOTAL_FACTOR
    assert _doc_number(r"more than (\d+) s\s+ahead is refused") == DaemonOptions().max_schedule_ahead
    assert "`limit`" in limits
