# Put this on the Camera3D (or the XR head): its global transform is sent as the listener, at
# most `max_rate` times a second and only when it moved or turned (plus a keep-alive each second).
# Godot's axes are the protocol's (-Z forward, +Y up, metres): no conversion.
@icon("res://addons/soundscape/icon.svg")
class_name SoundscapeListener3D
extends Node3D

@export_range(1.0, 240.0) var max_rate := 60.0
@export var send_velocity := true

var _last_pos := Vector3.ZERO
var _last_basis := Basis()
var _last_sent := -1.0


func _process(_delta: float) -> void:
	var now := Time.get_ticks_msec() / 1000.0
	if _last_sent >= 0.0 and now - _last_sent < 1.0 / max_rate:
		return
	var xf := global_transform
	var moved := xf.origin.distance_squared_to(_last_pos) > 1e-8 or not xf.basis.is_equal_approx(_last_basis)
	if not moved and now - _last_sent < 1.0:
		return
	var vel := Vector3.ZERO
	if send_velocity and _last_sent >= 0.0 and now > _last_sent:
		vel = (xf.origin - _last_pos) / (now - _last_sent)
	Soundscape.client.listener(xf.origin, -xf.basis.z, xf.basis.y, vel)
	_last_pos = xf.origin
	_last_basis = xf.basis
	_last_sent = now
