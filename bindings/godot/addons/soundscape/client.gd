# SoundscapeClient: the soundscape daemon's protocol (docs/protocol.md) in pure GDScript.
# ZMTP 3.0 (ZeroMQ's wire protocol, NULL mechanism) over StreamPeerTCP as a DEALER (commands,
# replies) and a SUB (telemetry), with msgpack.gd. Nothing here blocks: call poll() often (the
# Soundscape autoload does it every frame); it connects, reconnects with exponential backoff,
# writes what was queued and turns replies and telemetry into signals, on the calling thread.
# WIRE CORE: bindings/godot/godot3/ is generated from this file (tools/make_godot3.py).
extends RefCounted

signal telemetry(topic, payload)
# A sound caption or a spoken line's subtitle (topic "caption": subscribe("caption")); see
# caption_from(). docs/accessibility.md says when they come.
signal caption(caption)
signal connection_changed(connected)
signal request_done(request)

const MsgPack = preload("msgpack.gd")
const PROTOCOL_VERSION := 1
const MAX_QUEUE := 10000
# The profile message's fields (docs/accessibility.md); a key not among them is refused here.
const PROFILE_FIELDS = [
	"name", "audiogram", "prescription", "max_gain_db", "mono", "dynamic_range", "volume_db",
	"dialogue_boost_db", "preferences",
]

var client_name := "godot"
var request_timeout_ms := 5000
var backoff_min_ms := 100
var backoff_max_ms := 2000
var reconnects := 0
var dropped := 0

var _cmd: Conn
var _sub: Conn
var _topics := []
var _queue := []
var _pending := {}
var _next_id := 1
var _was_up := false


class Conn:
	extends RefCounted
	var host := ""
	var port := 0
	var socket_type := ""
	var tcp: StreamPeerTCP = null
	var state := 0  # 0 down, 1 connecting, 2 greeting sent, 4 greeting read (awaiting READY), 3 up
	var rx := PackedByteArray()
	var parts := []
	var retry_at := 0
	var backoff := 0
	var ups := 0

	func _init(endpoint: String, kind: String) -> void:
		var s := endpoint.trim_prefix("tcp://")
		var colon := s.rfind(":")
		host = s.substr(0, colon)
		if host == "*" or host == "localhost":
			host = "127.0.0.1"
		port = int(s.substr(colon + 1))
		socket_type = kind


func _init(command_endpoint := "tcp://127.0.0.1:5570", pub_endpoint := "tcp://127.0.0.1:5571") -> void:
	_cmd = Conn.new(command_endpoint, "DEALER")
	if pub_endpoint != "":
		_sub = Conn.new(pub_endpoint, "SUB")


func is_connected_to_daemon() -> bool:
	return _cmd.state == 3


# Receive telemetry topics starting with `prefix` ("" = all): beat, bar, instance_, error, ...
func subscribe(prefix: String) -> void:
	_topics.append(prefix)
	if _sub != null and _sub.state == 3:
		_send_frames(_sub, [_subscription(prefix)])


# ------------------------------------------------------------------------------------ messages
func hello(name := "") -> Dictionary:
	return _request("hello", {"name": name if name != "" else client_name}, NAN)


func set_param(name: String, value: float, t := NAN) -> void:
	_send("set_param", {"name": name, "value": float(value)}, t)


func set_state(group: String, value: String, t := NAN) -> void:
	_send("set_state", {"group": group, "value": value}, t)


func set_switch(group: String, value: String, object_name := "", t := NAN) -> void:
	_send("set_switch", _switch_fields(group, value, object_name), t)


# Start an event instance; the returned request's reply has "instance" (for stop()).
# `switches` ({group: value}) apply to this instance only.
func trigger(
	event: String, position = null, params := {}, object_name := "", t := NAN, switches := {}
) -> Dictionary:
	return _request("trigger", _trigger_fields(event, position, params, object_name, switches), t)


func trigger_no_reply(
	event: String, position = null, params := {}, object_name := "", t := NAN, switches := {}
) -> void:
	_send("trigger", _trigger_fields(event, position, params, object_name, switches), t)


func stop(instance: int, release := true, t := NAN) -> void:
	_send("stop", {"instance": instance, "release": release}, t)


# Listener (camera/head). Godot's axes are the protocol's: -Z forward, +Y up, metres.
func listener(position, forward = null, up = null, velocity = null, t := NAN) -> void:
	_send("listener", _listener_fields(position, forward, up, velocity), t)


func set_object(name: String, position, forward = null, velocity = null, t := NAN) -> void:
	_send("object", _object_fields(name, position, forward, velocity), t)


func snapshot(name: String, on: bool, t := NAN) -> void:
	_send("snapshot", {"name": name, "on": on}, t)


# Speak a synthetic character line (preset "": neutral), from an emitter's place or a position
# (2D when neither is given). Telemetry topic "say" reports it playing.
func say(text: String, preset := "", emitter := "", position = null, t := NAN) -> void:
	_send("say", _say_fields(text, preset, emitter, position), t)


# Play a music stinger of the scene, quantised to its beat or bar.
func stinger(name: String, t := NAN) -> void:
	_send("stinger", {"name": name}, t)


# Apply a player profile: hearing compensation, mono, dynamic range, per-group volumes. `fields` holds
# the profile's fields (PROFILE_FIELDS); one left out takes its default (each message is complete).
func profile(fields: Dictionary, t := NAN) -> void:
	for key in fields:
		if not key in PROFILE_FIELDS:
			push_error("soundscape: profile: unknown field %s; fields: %s" % [key, PROFILE_FIELDS])
			return
	_send("profile", fields, t)


# Hold a layer's weight (0..1; layer uid "emitter.layer") over its rules and director; null hands it
# back. Telemetry shows the layer's source as OVERRIDE while held.
func set_weight(layer: String, weight = null, t := NAN) -> void:
	_send("set_weight", _weight_fields(layer, weight), t)


# Barrier: the reply comes once everything sent before is applied by the audio process.
func sync(t := NAN) -> Dictionary:
	return _request("sync", {}, t)


func stats() -> Dictionary:
	return _request("stats", {}, NAN)


func load_scene(path: String) -> Dictionary:
	return _request("load_scene", {"path": path}, NAN)


# Items for send_batch(): item("set_param", {"name": "x", "value": 1.0}) or the helpers below.
static func item(type: String, fields: Dictionary) -> Dictionary:
	var d := {"type": type}
	for k in fields:
		d[k] = fields[k]
	return d


static func batch_set_param(name: String, value: float) -> Dictionary:
	return item("set_param", {"name": name, "value": float(value)})


static func batch_set_state(group: String, value: String) -> Dictionary:
	return item("set_state", {"group": group, "value": value})


static func batch_set_switch(group: String, value: String, object_name := "") -> Dictionary:
	return item("set_switch", _switch_fields(group, value, object_name))


static func batch_trigger(
	event: String, position = null, params := {}, object_name := "", switches := {}
) -> Dictionary:
	return item("trigger", _trigger_fields(event, position, params, object_name, switches))


static func batch_stop(instance: int, release := true) -> Dictionary:
	return item("stop", {"instance": instance, "release": release})


static func batch_listener(position, forward = null, up = null, velocity = null) -> Dictionary:
	return item("listener", _listener_fields(position, forward, up, velocity))


static func batch_object(name: String, position, forward = null, velocity = null) -> Dictionary:
	return item("object", _object_fields(name, position, forward, velocity))


static func batch_snapshot(name: String, on: bool) -> Dictionary:
	return item("snapshot", {"name": name, "on": on})


static func batch_say(text: String, preset := "", emitter := "", position = null) -> Dictionary:
	return item("say", _say_fields(text, preset, emitter, position))


static func batch_stinger(name: String) -> Dictionary:
	return item("stinger", {"name": name})


static func batch_set_weight(layer: String, weight = null) -> Dictionary:
	return item("set_weight", _weight_fields(layer, weight))


static func _weight_fields(layer: String, weight) -> Dictionary:
	var f := {"layer": layer}
	if weight != null:
		f["weight"] = float(weight)
	return f


# Several commands applied in the same audio block, atomically. With want_reply the request's
# reply has "results" (one map per item; {"instance": n} for triggers); otherwise returns {}.
func send_batch(items: Array, t := NAN, want_reply := true) -> Dictionary:
	if want_reply:
		return _request("batch", {"items": items}, t)
	_send("batch", {"items": items}, t)
	return {}


static func _vec(v) -> Array:
	return (
		[float(v[0]), float(v[1]), float(v[2])]
		if typeof(v) == TYPE_ARRAY
		else [float(v.x), float(v.y), float(v.z)]
	)


static func _switch_fields(group: String, value: String, object_name: String) -> Dictionary:
	var f := {"group": group, "value": value}
	if object_name != "":
		f["object"] = object_name
	return f


static func _trigger_fields(
	event: String, position, params: Dictionary, object_name: String, switches: Dictionary
) -> Dictionary:
	var f := {"event": event}
	if position != null:
		f["position"] = _vec(position)
	if not params.is_empty():  # godot3: if not params.empty():
		var p := {}
		for k in params:
			p[k] = float(params[k])
		f["params"] = p
	if object_name != "":
		f["object"] = object_name
	if not switches.is_empty():  # godot3: if not switches.empty():
		var w := {}
		for k in switches:
			w[k] = str(switches[k])
		f["switches"] = w
	return f


static func _say_fields(text: String, preset: String, emitter: String, position) -> Dictionary:
	var f := {"text": text}
	if preset != "":
		f["preset"] = preset
	if emitter != "":
		f["emitter"] = emitter
	if position != null:
		f["position"] = _vec(position)
	return f


static func _listener_fields(position, forward, up, velocity) -> Dictionary:
	return {
		"position": _vec(position),
		"forward": _vec(forward) if forward != null else [0.0, 0.0, -1.0],
		"up": _vec(up) if up != null else [0.0, 1.0, 0.0],
		"velocity": _vec(velocity) if velocity != null else [0.0, 0.0, 0.0],
	}


static func _object_fields(name: String, position, forward, velocity) -> Dictionary:
	var f := {"name": name, "position": _vec(position)}
	if forward != null:
		f["forward"] = _vec(forward)
	if velocity != null:
		f["velocity"] = _vec(velocity)
	return f


func _message(type: String, fields: Dictionary, id: int, t: float) -> PackedByteArray:
	var m := {"v": PROTOCOL_VERSION, "type": type}
	if id > 0:
		m["id"] = id
	for k in fields:
		m[k] = fields[k]
	if not is_nan(t):
		m["t"] = float(t)
	return MsgPack.encode(m)


func _send(type: String, fields: Dictionary, t: float) -> bool:
	if _queue.size() >= MAX_QUEUE:
		dropped += 1
		return false
	_queue.append(_message(type, fields, 0, t))
	_flush()
	return true


func _request(type: String, fields: Dictionary, t: float) -> Dictionary:
	var id := _next_id
	_next_id = _next_id % 4294967295 + 1
	var req := {
		"id": id,
		"type": type,
		"done": false,
		"ok": false,
		"reply": {},
		"error_code": "",
		"error": "",
		"sent": _now(),
	}
	if _queue.size() >= MAX_QUEUE:
		dropped += 1
		_finish(req, {}, "full", type + ": send queue full (daemon unreachable for long); dropped")
		return req
	_pending[id] = req
	_queue.append(_message(type, fields, id, t))
	_flush()
	return req


# ------------------------------------------------------------------------------------- network
func _now() -> int:
	return Time.get_ticks_msec()  # godot3: return OS.get_ticks_msec()


# Drive the connections: call every frame (or in a loop). Never blocks.
func poll() -> void:
	_poll_conn(_cmd)
	if _sub != null:
		_poll_conn(_sub)
	var up := _cmd.state == 3
	if up != _was_up:
		_was_up = up
		if up and _cmd.ups > 1:
			reconnects += 1
		emit_signal("connection_changed", up)
	_flush()
	_expire()


func close() -> void:
	for c in [_cmd, _sub]:
		if c != null and c.tcp != null:
			c.tcp.disconnect_from_host()
			c.state = 0


func _poll_conn(c: Conn) -> void:
	var now := _now()
	if c.state == 0:
		if now < c.retry_at:
			return
		c.tcp = StreamPeerTCP.new()
		c.rx = PackedByteArray()
		c.parts = []
		if c.tcp.connect_to_host(c.host, c.port) != OK:
			_down(c)
			return
		c.state = 1
	c.tcp.poll()  # godot3: pass
	var status := c.tcp.get_status()
	if status == StreamPeerTCP.STATUS_ERROR or status == StreamPeerTCP.STATUS_NONE:
		_down(c)
		return
	if c.state == 1:
		if status != StreamPeerTCP.STATUS_CONNECTED:
			return
		c.tcp.set_no_delay(true)
		var greeting := PackedByteArray()
		greeting.resize(64)
		for i in range(64):
			greeting[i] = 0
		greeting[0] = 0xff
		greeting[9] = 0x7f
		greeting[10] = 3
		var mech := "NULL".to_utf8_buffer()
		for i in range(4):
			greeting[12 + i] = mech[i]
		var ready := PackedByteArray([5])
		ready.append_array("READY".to_utf8_buffer())
		ready.append(11)
		ready.append_array("Socket-Type".to_utf8_buffer())
		ready.append_array(PackedByteArray([0, 0, 0, c.socket_type.length()]))
		ready.append_array(c.socket_type.to_utf8_buffer())
		greeting.append(0x04)
		greeting.append(ready.size())
		greeting.append_array(ready)
		if c.tcp.put_data(greeting) != OK:
			_down(c)
			return
		c.state = 2
	# Read what arrived; asking for one byte when none is announced detects a closed peer.
	var n: int = c.tcp.get_available_bytes()
	var got: Array = c.tcp.get_partial_data(int(max(n, 1)))
	if got[0] != OK:
		_down(c)
		return
	var rx: PackedByteArray = c.rx  # pool arrays are values in Godot 3: modify a copy, store it back
	rx.append_array(got[1])
	c.rx = rx
	if c.state == 2:
		if c.rx.size() < 64:
			return
		if c.rx[0] != 0xff or c.rx[9] != 0x7f or c.rx[10] < 3:
			push_warning("soundscape: %s:%d is not a ZeroMQ peer" % [c.host, c.port])
			_down(c)
			return
		c.rx = _slice(c.rx, 64, c.rx.size())
		c.state = 4
	while true:
		var frame := _take_frame(c)
		if frame.is_empty():  # godot3: if frame.empty():
			break
		var flags: int = frame[0]
		var body: PackedByteArray = frame[1]
		if flags & 0x04:
			if c.state == 4 and body.size() >= 6 and body[0] == 5:
				c.state = 3
				c.ups += 1
				c.backoff = 0
				if c == _sub:
					var subs := []
					for t in _topics:
						subs.append(_subscription(t))
					_send_frames(c, subs)
			continue
		c.parts.append(body)
		if flags & 0x01:
			continue
		var parts: Array = c.parts
		c.parts = []
		if c == _cmd:
			_on_reply(parts[parts.size() - 1])
		elif parts.size() >= 2:
			_on_telemetry(parts[0], parts[1])


# One complete frame [flags, body] from c.rx, or [] if not all of it has arrived.
func _take_frame(c: Conn) -> Array:
	var rx := c.rx
	if rx.size() < 2:
		return []
	var flags: int = rx[0]
	var size := 0
	var head := 2
	if flags & 0x02:
		if rx.size() < 9:
			return []
		for i in range(8):
			size = (size << 8) | rx[1 + i]
		head = 9
	else:
		size = rx[1]
	if rx.size() < head + size:
		return []
	var body := _slice(rx, head, head + size)
	c.rx = _slice(rx, head + size, rx.size())
	return [flags, body]


static func _slice(a: PackedByteArray, from: int, to: int) -> PackedByteArray:
	return a.slice(from, to)  # godot3: return a.subarray(from, to - 1) if to > from else PoolByteArray()


func _down(c: Conn) -> void:
	if c.tcp != null:
		c.tcp.disconnect_from_host()
	c.state = 0
	c.backoff = backoff_min_ms if c.backoff == 0 else int(min(c.backoff * 2, backoff_max_ms))
	c.retry_at = _now() + c.backoff


func _subscription(prefix: String) -> PackedByteArray:
	var b := PackedByteArray([1])
	b.append_array(prefix.to_utf8_buffer())
	return b


func _send_frames(c: Conn, bodies: Array) -> bool:
	var out := PackedByteArray()
	for body in bodies:
		var n: int = body.size()
		if n <= 255:
			out.append(0)
			out.append(n)
		else:
			out.append(0x02)
			for i in range(8):
				out.append((n >> (8 * (7 - i))) & 0xff)
		out.append_array(body)
	if out.size() == 0:
		return true
	if c.tcp.put_data(out) != OK:
		_down(c)
		return false
	return true


func _flush() -> void:
	if _cmd.state != 3 or _queue.is_empty():  # godot3: if _cmd.state != 3 or _queue.empty():
		return
	if _send_frames(_cmd, _queue):
		_queue = []


func _on_reply(body: PackedByteArray) -> void:
	var r: Array = MsgPack.decode(body)
	if not r[0] or typeof(r[1]) != TYPE_DICTIONARY:
		push_warning("soundscape: undecodable reply")
		return
	var reply: Dictionary = r[1]
	var id = reply.get("id")
	if typeof(id) != TYPE_INT or not _pending.has(id):
		return
	var req: Dictionary = _pending[id]
	_pending.erase(id)
	if reply.get("type") == "error":
		_finish(req, reply, str(reply.get("code", "error")), str(reply.get("message", "error")))
	else:
		_finish(req, reply, "", "")


func _on_telemetry(topic: PackedByteArray, body: PackedByteArray) -> void:
	var r: Array = MsgPack.decode(body)
	if r[0]:
		var name := topic.get_string_from_utf8()
		emit_signal("telemetry", name, r[1])
		if name == "caption":
			var c = caption_from(r[1])
			if c != null:
				emit_signal("caption", c)


# A "caption" payload as a Dictionary with every key present: text, importance, speaker (null for
# sounds), spatial (bool), direction (degrees from where the listener faces: 0 ahead, + right,
# -180..180), elevation, distance (m), loudness_db, synthetic, subtitle, count, frame.
# null when the payload has no text.
static func caption_from(payload) -> Variant:  # godot3: static func caption_from(payload):
	if typeof(payload) != TYPE_DICTIONARY or typeof(payload.get("text")) != TYPE_STRING:
		return null
	var direction = payload.get("direction")
	var spatial: bool = typeof(direction) == TYPE_FLOAT or typeof(direction) == TYPE_INT
	return {
		"text": payload["text"],
		"importance": str(payload.get("importance", "normal")),
		"speaker": payload.get("speaker"),
		"spatial": spatial,
		"direction": float(direction) if spatial else 0.0,
		"elevation": float(payload.get("elevation", 0.0)) if spatial else 0.0,
		"distance": float(payload.get("distance", 0.0)) if spatial else 0.0,
		"loudness_db": float(payload.get("loudness_db", 0.0)) if payload.get("loudness_db") != null else 0.0,
		"synthetic": payload.get("synthetic") == true,
		"subtitle": payload.get("subtitle") == true,
		"count": int(payload.get("count", 1)),
		"frame": int(payload.get("frame", 0)),
	}


func _finish(req: Dictionary, reply: Dictionary, code: String, error: String) -> void:
	req["reply"] = reply
	req["error_code"] = code
	req["error"] = error
	req["ok"] = code == ""
	req["done"] = true
	emit_signal("request_done", req)


func _expire() -> void:
	if _pending.is_empty():  # godot3: if _pending.empty():
		return
	var now := _now()
	for id in _pending.keys():
		var req: Dictionary = _pending[id]
		if now - int(req["sent"]) > request_timeout_ms:
			_pending.erase(id)
			_finish(
				req,
				{},
				"timeout",
				(
					"%s: no reply within %d ms (is the daemon running on %s:%d?)"
					% [req["type"], request_timeout_ms, _cmd.host, _cmd.port]
				)
			)
