# A game object the daemon knows by name: its global transform is sent (rate-limited) so the
# scene's emitters and event instances attached to it follow. play() starts events on it.
@icon("res://addons/soundscape/icon.svg")
class_name SoundscapeEmitter3D
extends Node3D

signal started(instance)

## Object name in the daemon (empty: the node's name).
@export var object_name := ""
## Event to trigger when the node enters the tree (empty: none).
@export var play_on_ready := ""
@export var stop_on_exit := true
@export_range(1.0, 240.0) var max_rate := 30.0

## Instances this emitter started that have not been stopped.
var playing: Array[int] = []

var _last_pos := Vector3.ZERO
var _last_fwd := Vector3.ZERO
var _last_sent := -1.0


func get_object_name() -> String:
	return object_name if object_name != "" else String(name)


func _ready() -> void:
	if play_on_ready != "":
		play(play_on_ready)


func _exit_tree() -> void:
	if stop_on_exit:
		stop_all(true)


## Trigger `event` attached to this object; emits `started(instance)` when the daemon answers.
func play(event: String, params := {}) -> Dictionary:
	_send_transform(true)
	var req: Dictionary = Soundscape.client.trigger(event, global_position, params, get_object_name())
	var reply := await Soundscape.replied(req)
	if reply.has("instance"):
		playing.append(reply["instance"])
		started.emit(reply["instance"])
	return req


func stop(instance: int, release := true) -> void:
	Soundscape.client.stop(instance, release)
	playing.erase(instance)


func stop_all(release := true) -> void:
	for id in playing:
		Soundscape.client.stop(id, release)
	playing.clear()


func set_switch(group: String, value: String) -> void:
	Soundscape.client.set_switch(group, value, get_object_name())


func _process(_delta: float) -> void:
	_send_transform(false)


func _send_transform(force: bool) -> void:
	var now := Time.get_ticks_msec() / 1000.0
	if not force and _last_sent >= 0.0 and now - _last_sent < 1.0 / max_rate:
		return
	var pos := global_position
	var fwd := -global_transform.basis.z
	var moved := pos.distance_squared_to(_last_pos) > 1e-8 or fwd.distance_squared_to(_last_fwd) > 1e-8
	if not force and not moved and now - _last_sent < 1.0:
		return
	var vel := Vector3.ZERO
	if _last_sent >= 0.0 and now > _last_sent:
		vel = (pos - _last_pos) / (now - _last_sent)
	Soundscape.client.set_object(get_object_name(), pos, fwd, vel)
	_last_pos = pos
	_last_fwd = fwd
	_last_sent = now
