@tool
extends EditorPlugin
# Registers the `Soundscape` autoload and the two 3D nodes when the addon is enabled.

const AUTOLOAD := "Soundscape"


func _enter_tree() -> void:
	add_autoload_singleton(AUTOLOAD, "res://addons/soundscape/soundscape.gd")


func _exit_tree() -> void:
	remove_autoload_singleton(AUTOLOAD)
