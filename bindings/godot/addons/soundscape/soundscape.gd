# The `Soundscape` autoload: owns one SoundscapeClient, polls it every frame (the network never
# blocks the game loop: sockets are non-blocking and everything is queued) and re-emits what the
# daemon says as signals on the main thread.
#
#   func _ready():
#       Soundscape.beat.connect(func(beat, bar): print("beat ", beat, " of bar ", bar))
#       Soundscape.set_state("weather", "storm")
#       var req = Soundscape.trigger("door_open", $Door.global_position)
#       var reply = await Soundscape.replied(req)       # {"instance": 12, ...}
extends Node

signal connected
signal disconnected
signal scene_changed(scene)
signal beat(beat, bar)
signal bar(bar)
signal marker(payload)
signal instance_started(payload)
signal instance_ended(payload)
signal daemon_error(payload)
## A sound caption or a spoken line's subtitle: a Dictionary (client.gd's caption_from).
signal caption(caption)
signal telemetry(topic, payload)
signal request_done(request)

const SoundscapeClient = preload("client.gd")

## Endpoints as `soundscape serve` prints them (override in Project Settings > soundscape/*).
var command_endpoint := "tcp://127.0.0.1:5570"
var telemetry_endpoint := "tcp://127.0.0.1:5571"
var client_name := "godot"
var topics := ["beat", "bar", "marker", "instance_", "error", "caption"]

var client: SoundscapeClient
## The daemon's scene (from hello): parameters, states, switches, events.
var scene := {}


func _enter_tree() -> void:
	command_endpoint = ProjectSettings.get_setting("soundscape/command_endpoint", command_endpoint)
	telemetry_endpoint = ProjectSettings.get_setting("soundscape/telemetry_endpoint", telemetry_endpoint)
	client_name = ProjectSettings.get_setting("soundscape/client_name", client_name)
	client = SoundscapeClient.new(command_endpoint, telemetry_endpoint)
	client.client_name = client_name
	for t in topics:
		client.subscribe(t)
	client.telemetry.connect(_on_telemetry)
	client.caption.connect(func(c): caption.emit(c))
	client.connection_changed.connect(_on_connection)
	client.request_done.connect(func(req): request_done.emit(req))


func _process(_delta: float) -> void:
	client.poll()


func _exit_tree() -> void:
	client.close()


## Wait for a request's reply: `var reply = await Soundscape.replied(req)` ({} on error/timeout).
func replied(req: Dictionary) -> Dictionary:
	while not req["done"]:
		await request_done
	return req["reply"] if req["ok"] else {}


func _on_connection(up: bool) -> void:
	if not up:
		disconnected.emit()
		return
	connected.emit()
	var req := client.hello()
	var reply := await replied(req)
	if not reply.is_empty():
		scene = reply.get("scene", {})
		scene_changed.emit(scene)


func _on_telemetry(topic: String, payload) -> void:
	match topic:
		"beat":
			beat.emit(payload.get("beat", 0), payload.get("bar", 0))
		"bar":
			bar.emit(payload.get("bar", 0))
		"marker":
			marker.emit(payload)
		"instance_started":
			instance_started.emit(payload)
		"instance_ended":
			instance_ended.emit(payload)
		"error":
			daemon_error.emit(payload)
			push_warning("soundscape daemon: %s" % payload.get("message", payload))
	telemetry.emit(topic, payload)


# Shortcuts to the client (same arguments; `t` = game time in seconds for sample-accurate timing).
func set_param(name: String, value: float, t := NAN) -> void:
	client.set_param(name, value, t)


func set_state(group: String, value: String, t := NAN) -> void:
	client.set_state(group, value, t)


func set_switch(group: String, value: String, object_name := "", t := NAN) -> void:
	client.set_switch(group, value, object_name, t)


func trigger(
	event: String, position = null, params := {}, object_name := "", t := NAN, switches := {}
) -> Dictionary:
	return client.trigger(event, position, params, object_name, t, switches)


func stop(instance: int, release := true, t := NAN) -> void:
	client.stop(instance, release, t)


func snapshot(name: String, on: bool, t := NAN) -> void:
	client.snapshot(name, on, t)


func say(text: String, preset := "", emitter := "", position = null, t := NAN) -> void:
	client.say(text, preset, emitter, position, t)


func stinger(name: String, t := NAN) -> void:
	client.stinger(name, t)


func set_weight(layer: String, weight = null, t := NAN) -> void:
	client.set_weight(layer, weight, t)


func profile(fields: Dictionary, t := NAN) -> void:
	client.profile(fields, t)
