# Round-trip latency of the GDScript client on headless Godot 3 (docs/godot.md):
#   godot3-server --no-window --path PROJECT -s latency_godot3.gd N CMD PUB
extends SceneTree

const Client = preload("res://soundscape/client.gd")


func _init() -> void:
	var args := OS.get_cmdline_args()
	var n := int(args[args.size() - 3])
	var client = Client.new(args[args.size() - 2], args[args.size() - 1])
	for kind in ["stats", "sync"]:
		var ms := []
		for _i in range(n):
			var t0 := OS.get_ticks_usec()
			var req: Dictionary = client.stats() if kind == "stats" else client.sync()
			while not req["done"]:
				client.poll()  # a busy loop, as a game polling every frame at a very high rate would
			ms.append((OS.get_ticks_usec() - t0) / 1000.0)
		ms.sort()
		print("@@ round trip %s x%d: median %.3f ms, p99 %.3f ms" % [kind, n, ms[n / 2], ms[n * 99 / 100]])
	client.close()
	quit(0)
