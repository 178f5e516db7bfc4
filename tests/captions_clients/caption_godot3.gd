# Print the first sound caption from the daemon's telemetry, through the client's `caption` signal
# (tests/test_captions_bindings.py). Arguments after the script: COMMAND_ENDPOINT PUB_ENDPOINT.
extends SceneTree

const Client = preload("res://soundscape/client.gd")

var got = null


func _init():
	var args = OS.get_cmdline_args()
	var c = Client.new(args[args.size() - 2], args[args.size() - 1])
	c.connect("caption", self, "_on_caption")
	c.subscribe("caption")
	print("ready")
	var start = OS.get_ticks_msec()
	while got == null and OS.get_ticks_msec() - start < 20000:
		c.poll()
		OS.delay_msec(5)
	if got != null:
		print("caption %s|%s|%d|%.2f|%.3f|%.2f|%d|%d|%d|%d" % [got["text"], got["importance"],
			1 if got["spatial"] else 0, got["direction"], got["distance"], got["loudness_db"],
			1 if got["synthetic"] else 0, 1 if got["subtitle"] else 0, got["count"], got["frame"]])
	quit(0 if got != null else 1)


func _on_caption(caption):
	if got == null:
		got = caption
