# The conformance script (SCRIPT.md) through the GDScript client, on a real (headless) Godot 3:
#   godot3-server --no-window --path PROJECT -s client_godot3.gd CMD PUB GO_FILE
# PROJECT holds soundscape/ (bindings/godot/godot3/soundscape, generated from the Godot 4 addon).
# Transcript lines start with "@@ " to tell them from the engine's own output.
extends SceneTree

const Client = preload("res://soundscape/client.gd")
const U = "Tür-ドア-🚪"

var client
var ended_wanted := -1
var ended_got := -1
var said := []  # presets of the `say` telemetry received, in order


func say(line: String) -> void:
	print("@@ " + line)


func wait_done(req: Dictionary, timeout_ms := 5000) -> Dictionary:
	var start := OS.get_ticks_msec()
	while not req["done"] and OS.get_ticks_msec() - start < timeout_ms + 1000:
		client.poll()
		OS.delay_msec(1)
	return req


func done(req: Dictionary, timeout_ms := 5000) -> Dictionary:
	wait_done(req, timeout_ms)
	if not req["ok"]:
		printerr("%s failed: %s %s" % [req["type"], req["error_code"], req["error"]])
		quit(1)
	return req["reply"]


func _on_telemetry(topic: String, payload) -> void:
	if topic == "instance_ended" and typeof(payload) == TYPE_DICTIONARY and payload.get("instance") == ended_wanted:
		ended_got = ended_wanted
	if topic == "say" and typeof(payload) == TYPE_DICTIONARY:
		said.append(payload.get("preset"))


func wait_said() -> void:
	var start := OS.get_ticks_msec()
	while said.empty() and OS.get_ticks_msec() - start < 10000:
		client.poll()
		OS.delay_msec(5)
	if not said.empty():
		say("said %s" % said.pop_front())


func _init() -> void:
	var args := OS.get_cmdline_args()
	var n := args.size()
	var cmd: String = args[n - 3]
	var pub: String = args[n - 2]
	var go: String = args[n - 1]
	client = Client.new(cmd, pub)
	client.client_name = "conformance"
	client.connect("telemetry", self, "_on_telemetry")
	client.subscribe("instance_")
	client.subscribe("say")
	var h := done(client.hello())
	say("hello %d %s" % [h["protocol"], h["scene"]["name"]])
	client.set_param("intensity", 0.25)
	client.set_param("speed", 42.0)
	client.set_state("weather", "rain")
	client.set_switch("surface", "gravel")
	client.set_switch("surface", "wood", U)
	var i1: int = done(client.trigger("ping", [1.5, -2.0, 3.25]))["instance"]
	say("trigger %d" % i1)
	ended_wanted = i1  # before anything else runs: its end may arrive while later requests wait
	var i2: int = done(client.trigger("hum", null, {"größe": 0.5, "pitch": -1.0}, U))["instance"]
	say("trigger %d" % i2)
	client.listener([0.1, 1.7, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.0])
	client.set_object(U, [2.0, 0.0, -3.5], [1.0, 0.0, 0.0], [0.0, 0.0, 0.1])
	client.snapshot("underwater", true)
	client.stop(i2, false)
	var items := [
		Client.batch_set_param("intensity", 0.75),
		Client.batch_set_state("area", "cave"),
		Client.batch_trigger("stinger", [0.0, 0.0, -1.0]),
		Client.batch_object("car1", [10.0, 0.0, -4.0]),
	]
	var line := "batch"
	for r in done(client.send_batch(items))["results"]:
		line += " %d" % r.get("instance", 0)
	say(line)
	client.set_state("weather", "storm", 100.0)
	client.set_param("intensity", 0.5, 100.25)
	say("trigger %d" % done(client.trigger("ping", null, {}, "", 100.5))["instance"])
	client.send_batch([Client.batch_set_switch("surface", "grass"), Client.batch_listener([1.0, 1.7, 0.0])], 101.0, false)
	done(client.sync())
	say("sync")
	ended_wanted = i1
	var start := OS.get_ticks_msec()
	while ended_got < 0 and OS.get_ticks_msec() - start < 5000:
		client.poll()
		OS.delay_msec(5)
	if ended_got >= 0:
		say("ended %d" % ended_got)
	var i6: int = done(client.trigger("hum", null, {}, U, NAN, {"surface": "wood"}))["instance"]
	say("trigger %d" % i6)
	client.stinger("victory")
	client.set_weight("door.creak", 0.25)
	client.profile({
		"name": "conformance",
		"audiogram": {"left": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0], "right": [15.0, 20.0, 30.0, 45.0, 60.0, 70.0]},
		"prescription": "half-gain",
		"max_gain_db": 20.0,
		"mono": true,
		"dynamic_range": "home",
		"volume_db": {"music": -6.0, "dialogue": 3.0},
		"dialogue_boost_db": 6.0,
		"preferences": {"ambience": 0.25, "startle": 0.75},
	})
	client.say("Die Brücke ist weg, Fremder.", "ogre", "", [1.0, 0.0, -2.0])
	wait_said()
	items = [
		Client.batch_set_switch("surface", "gravel", U),
		Client.batch_snapshot("underwater", false),
		Client.batch_stinger("victory"),
		Client.batch_trigger("ping", null, {}, "", {"surface": "grass"}),
		Client.batch_stop(i6, true),
		Client.batch_say("Ja.", "", "door"),
		Client.batch_set_weight("door.creak"),
	]
	line = "batch"
	for r in done(client.send_batch(items))["results"]:
		line += " %d" % r.get("instance", 0)
	say(line)
	wait_said()
	var loaded := wait_done(client.load_scene("dungeon.yaml"), 15000)
	say("load_scene %s" % ("ok" if loaded["ok"] else loaded["error_code"]))
	line = "stats"
	for key in done(client.stats())["stats"]:
		line += " " + key
	say(line)
	say("part1")
	var d := Directory.new()
	start = OS.get_ticks_msec()
	while not d.file_exists(go) and OS.get_ticks_msec() - start < 60000:
		client.poll()
		OS.delay_msec(20)

	h = done(client.hello(), 10000)
	say("hello %d %s" % [h["protocol"], h["scene"]["name"]])
	client.set_param("speed", 7.5)
	say("trigger %d" % done(client.trigger("ping", [0.0, 0.0, 0.0]))["instance"])
	done(client.sync())
	say("sync")
	say("done")
	if client.reconnects < 1:
		printerr("expected a reconnect, saw %d" % client.reconnects)
	client.close()
	quit(0)
