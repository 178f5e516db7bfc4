"""The studio's gatekeeping rules (token, Host, Origin) as plain functions; the browser tests in
test_studio.py check the same rules end to end on the real server."""

from __future__ import annotations

from middleware.studio import security


def test_tokens_are_random_and_compared_exactly():
    a, b = security.new_token(), security.new_token()
    assert a != b and len(a) >= 32
    assert security.token_matches(a, a)
    assert not security.token_matches(b, a)
    assert not security.token_matches(None, a)
    assert not security.token_matches(a[:-1], a)
    assert not security.token_matches("", a)


def test_loopback_hosts_are_recognised():
    for h in ("127.0.0.1", "127.8.9.1", "localhost", "::1", "[::1]"):
        assert security.is_loopback(h), h
    for h in ("0.0.0.0", "192.168.1.4", "example.com", "::", "10.0.0.1"):
        assert not security.is_loopback(h), h


def test_host_header_must_name_this_server():
    allowed = security.allowed_hosts("127.0.0.1", 8123)
    for ok in ("127.0.0.1:8123", "localhost:8123", "LOCALHOST:8123", "[::1]:8123"):
        assert security.host_ok(ok, allowed), ok
    # DNS rebinding: the attacker's name resolves to 127.0.0.1, but the Host header keeps the name
    for bad in ("evil.example:8123", "127.0.0.1:8124", "127.0.0.1", None, "localhost.evil.example:8123"):
        assert not security.host_ok(bad, allowed), bad
    lan = security.allowed_hosts("192.168.1.4", 9000)
    assert security.host_ok("192.168.1.4:9000", lan) and not security.host_ok("localhost:9000", lan)


def test_origin_must_be_this_server_when_present():
    allowed = security.allowed_hosts("127.0.0.1", 8123)
    assert security.origin_ok(None, allowed)  # same-origin GETs and command-line tools send none
    assert security.origin_ok("http://127.0.0.1:8123", allowed)
    assert security.origin_ok("http://localhost:8123", allowed)
    for bad in ("http://evil.example", "https://127.0.0.1:8123", "http://127.0.0.1:8124", "null", ""):
        assert not security.origin_ok(bad, allowed), bad


def test_page_commands_carry_only_the_messages_own_fields():
    """A page cannot smuggle envelope keys (``id`` would make the link wait for a reply that never
    comes) or send a message the studio does not forward (``load_scene`` is the watcher's)."""
    import pytest

    from middleware.errors import ProtocolError
    from middleware.studio.link import DaemonLink

    link = DaemonLink("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")  # never started: refusals come first
    with pytest.raises(ProtocolError, match="unknown field"):
        link.submit("set_param", name="intensity", value=0.5, id=7).result(0)
    with pytest.raises(ProtocolError, match="does not send"):
        link.submit("shutdown").result(0)
    with pytest.raises(ProtocolError, match="does not send"):
        link.submit("batch", items=[]).result(0)
