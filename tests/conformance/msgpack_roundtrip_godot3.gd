# Decode each hex line of CORPUS with the generated Godot 3 msgpack.gd, encode it again, print hex.
#   godot3-server --no-window --path PROJECT -s msgpack_roundtrip_godot3.gd CORPUS
extends SceneTree

const MsgPack = preload("res://soundscape/msgpack.gd")


func _init() -> void:
	var args := OS.get_cmdline_args()
	var f := File.new()
	if f.open(args[args.size() - 1], File.READ) != OK:
		printerr("cannot open corpus")
		quit(1)
		return
	while not f.eof_reached():
		var line := f.get_line().strip_edges()
		if line == "":
			continue
		var bytes := PoolByteArray()
		for i in range(0, line.length(), 2):
			bytes.append(("0x" + line.substr(i, 2)).hex_to_int())
		var r: Array = MsgPack.decode(bytes)
		print("@@ " + (MsgPack.encode(r[1]).hex_encode() if r[0] else "error"))
	quit(0)
