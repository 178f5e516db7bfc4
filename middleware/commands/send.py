"""``soundscape send TYPE key=value ...``: send one protocol message from the shell."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..config import COMMAND_ENDPOINT

NAME = "send"
HELP = "send one message to a running daemon, e.g. `soundscape send set_param name=intensity value=0.8`"
DESCRIPTION = (
    "Send one protocol message (see docs/protocol.md) and print the daemon's reply as JSON. Values are "
    'parsed as JSON when they can be (0.8, true, [1,2,3], {"a": 1}), else taken as strings. '
    "--no-reply sends fire-and-forget. --schema prints the protocol's JSON Schema and exits."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("type", nargs="?", help="message type: hello, set_param, trigger, ...")
    parser.add_argument("fields", nargs="*", metavar="key=value", help="message fields")
    parser.add_argument(
        "--connect", default=COMMAND_ENDPOINT, help="daemon command socket (default %(default)s)"
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the reply")
    parser.add_argument(
        "--t", type=float, dest="t", help="game-time timestamp in seconds (schedules the message)"
    )
    parser.add_argument("--no-reply", action="store_true", help="fire-and-forget (no id, no reply)")
    parser.add_argument("--schema", action="store_true", help="print the protocol JSON Schema and exit")


def parse_fields(items: list[str]) -> dict[str, Any]:
    from ..errors import ProtocolError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ProtocolError(f"{item!r}: fields are key=value (e.g. value=0.8 or position=[1,0,2])")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def run(args: argparse.Namespace) -> int:
    from ..errors import ProtocolError
    from ..transport.client import Client
    from ..transport.protocol import MESSAGES, json_schema

    if args.schema:
        print(json.dumps(json_schema(), indent=2))
        return 0
    if not args.type:
        raise ProtocolError("send: give a message type: " + ", ".join(MESSAGES))
    fields = parse_fields(args.fields)
    with Client(args.connect, timeout=args.timeout) as client:
        if args.no_reply:
            client.send(args.type, args.t, **fields)
            return 0
        try:
            reply = client.request(args.type, args.t, **fields)
        except TimeoutError as exc:
            raise ProtocolError(f"{exc} (is `soundscape serve` running there?)", code="busy") from None
    print(json.dumps(reply, indent=2, default=str))
    return 0
