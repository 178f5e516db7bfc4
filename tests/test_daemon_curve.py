"""CURVE encryption with a key allowlist (ZAP): a known client key gets in, an unknown one does not."""

from __future__ import annotations

from pathlib import Path

import zmq
import zmq.auth
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber


def _keys(path, name):
    public_file, secret_file = zmq.auth.create_certificates(str(path), name)
    public, secret = zmq.auth.load_certificate(secret_file)
    return public_file, secret_file, public, secret


def test_curve_allows_known_keys_and_refuses_unknown(tmp_path):
    (tmp_path / "server").mkdir()
    (tmp_path / "allowed").mkdir()
    (tmp_path / "other").mkdir()
    _, server_secret_file, server_public, _ = _keys(tmp_path / "server", "server")
    good_public_file, _, good_public, good_secret = _keys(tmp_path / "other", "good")
    _, _, bad_public, bad_secret = _keys(tmp_path / "other", "stranger")
    (tmp_path / "allowed" / "good.key").write_bytes(Path(good_public_file).read_bytes())

    proc, info = start_daemon("--curve-secret", server_secret_file, "--allow-keys", str(tmp_path / "allowed"))
    ctx = zmq.Context()
    try:
        good = {"server_public": server_public, "public": good_public, "secret": good_secret}
        with Client(info["bind"], curve=good, timeout=5.0, context=ctx) as c:
            assert c.hello("headset")["protocol"] == 1
            with Subscriber(info["pub"], ["audio"], curve=good, context=ctx) as sub:
                assert sub.wait_for("audio", 3.0) is not None  # telemetry is encrypted too, and flows

        bad = {"server_public": server_public, "public": bad_public, "secret": bad_secret}
        with Client(info["bind"], curve=bad, timeout=1.5, context=ctx) as c:
            try:
                c.hello("intruder")
                raise AssertionError("an unknown key was let in")
            except TimeoutError:
                pass
        with Client(info["bind"], timeout=1.0, context=ctx) as c:  # plain text is refused too
            try:
                c.hello("plain")
                raise AssertionError("a client without CURVE was let in")
            except TimeoutError:
                pass
    finally:
        ctx.destroy(linger=0)
        code, err = stop_daemon(proc)
    assert code == 0, err
