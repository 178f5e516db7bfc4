# msgpack encode/decode in pure GDScript: what the soundscape protocol needs, no dependency.
# Encoding follows msgpack-python (smallest int form, float64 for every float), so this client
# puts the same bytes on the wire as the Python, C and C# clients.
# WIRE CORE: bindings/godot/godot3/ is generated from this file (tools/make_godot3.py).
extends RefCounted


static func encode(value) -> PackedByteArray:
	var buf := StreamPeerBuffer.new()
	buf.big_endian = true
	_write(buf, value)
	return buf.data_array


static func _write(buf: StreamPeerBuffer, v) -> void:
	var t := typeof(v)
	if t == TYPE_NIL:
		buf.put_u8(0xc0)
	elif t == TYPE_BOOL:
		buf.put_u8(0xc3 if v else 0xc2)
	elif t == TYPE_INT:
		_write_int(buf, v)
	elif t == TYPE_FLOAT:
		buf.put_u8(0xcb)
		buf.put_double(v)
	elif t == TYPE_STRING or t == TYPE_STRING_NAME:  # godot3: elif t == TYPE_STRING:
		_write_str(buf, str(v))
	elif t == TYPE_VECTOR3:
		buf.put_u8(0x93)
		for x in [v.x, v.y, v.z]:
			buf.put_u8(0xcb)
			buf.put_double(x)
	elif t == TYPE_ARRAY:
		_write_len(buf, v.size(), 0x90, 0xdc, 0xdd)
		for x in v:
			_write(buf, x)
	elif t == TYPE_DICTIONARY:
		_write_len(buf, v.size(), 0x80, 0xde, 0xdf)
		for k in v:
			_write(buf, k)
			_write(buf, v[k])
	elif t == TYPE_PACKED_BYTE_ARRAY:
		var n: int = v.size()
		if n < 256:
			buf.put_u8(0xc4)
			buf.put_u8(n)
		elif n < 65536:
			buf.put_u8(0xc5)
			buf.put_u16(n)
		else:
			buf.put_u8(0xc6)
			buf.put_u32(n)
		buf.put_data(v)
	else:
		push_error("msgpack: cannot encode a value of type %d" % t)
		buf.put_u8(0xc0)


static func _write_int(buf: StreamPeerBuffer, v: int) -> void:
	if v >= 0:
		if v < 128:
			buf.put_u8(v)
		elif v < 256:
			buf.put_u8(0xcc)
			buf.put_u8(v)
		elif v < 65536:
			buf.put_u8(0xcd)
			buf.put_u16(v)
		elif v < 4294967296:
			buf.put_u8(0xce)
			buf.put_u32(v)
		else:
			buf.put_u8(0xcf)
			buf.put_64(v)
	elif v >= -32:
		buf.put_u8(0x100 + v)
	elif v >= -128:
		buf.put_u8(0xd0)
		buf.put_8(v)
	elif v >= -32768:
		buf.put_u8(0xd1)
		buf.put_16(v)
	elif v >= -2147483648:
		buf.put_u8(0xd2)
		buf.put_32(v)
	else:
		buf.put_u8(0xd3)
		buf.put_64(v)


static func _write_str(buf: StreamPeerBuffer, s: String) -> void:
	var b: PackedByteArray = s.to_utf8_buffer()
	var n := b.size()
	if n < 32:
		buf.put_u8(0xa0 | n)
	elif n < 256:
		buf.put_u8(0xd9)
		buf.put_u8(n)
	elif n < 65536:
		buf.put_u8(0xda)
		buf.put_u16(n)
	else:
		buf.put_u8(0xdb)
		buf.put_u32(n)
	buf.put_data(b)


static func _write_len(buf: StreamPeerBuffer, n: int, fix: int, b16: int, b32: int) -> void:
	if n < 16:
		buf.put_u8(fix | n)
	elif n < 65536:
		buf.put_u8(b16)
		buf.put_u16(n)
	else:
		buf.put_u8(b32)
		buf.put_u32(n)


# Decode one value. Returns [ok, value]; ok is false for malformed or truncated data.
static func decode(data: PackedByteArray) -> Array:
	var buf := StreamPeerBuffer.new()
	buf.big_endian = true
	buf.data_array = data
	var out := [true]
	var v = _read(buf, out, 0)
	if not out[0] or buf.get_position() != data.size():
		return [false, null]
	return [true, v]


static func _need(buf: StreamPeerBuffer, n: int, out: Array) -> bool:
	if buf.get_size() - buf.get_position() < n:
		out[0] = false
		return false
	return true


static func _read(buf: StreamPeerBuffer, out: Array, depth: int):
	if depth > 64 or not _need(buf, 1, out):
		out[0] = false
		return null
	var c: int = buf.get_u8()
	if c <= 0x7f:
		return c
	if c >= 0xe0:
		return c - 0x100
	if (c & 0xf0) == 0x80:
		return _read_map(buf, c & 0x0f, out, depth)
	if (c & 0xf0) == 0x90:
		return _read_array(buf, c & 0x0f, out, depth)
	if (c & 0xe0) == 0xa0:
		return _read_str(buf, c & 0x1f, out)
	match c:
		0xc0:
			return null
		0xc2:
			return false
		0xc3:
			return true
		0xc4, 0xc5, 0xc6:
			var n := _read_len(buf, c - 0xc4, out)
			if not _need(buf, n, out):
				return null
			return buf.get_data(n)[1]
		0xca:
			return buf.get_float() if _need(buf, 4, out) else null
		0xcb:
			return buf.get_double() if _need(buf, 8, out) else null
		0xcc:
			return buf.get_u8() if _need(buf, 1, out) else null
		0xcd:
			return buf.get_u16() if _need(buf, 2, out) else null
		0xce:
			return buf.get_u32() if _need(buf, 4, out) else null
		0xcf:
			return buf.get_u64() if _need(buf, 8, out) else null
		0xd0:
			return buf.get_8() if _need(buf, 1, out) else null
		0xd1:
			return buf.get_16() if _need(buf, 2, out) else null
		0xd2:
			return buf.get_32() if _need(buf, 4, out) else null
		0xd3:
			return buf.get_64() if _need(buf, 8, out) else null
		0xd9, 0xda, 0xdb:
			return _read_str(buf, _read_len(buf, c - 0xd9, out), out)
		0xdc, 0xdd:
			return _read_array(buf, _read_len(buf, c - 0xdc + 1, out), out, depth)
		0xde, 0xdf:
			return _read_map(buf, _read_len(buf, c - 0xde + 1, out), out, depth)
		0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
			_skip(buf, (1 << (c - 0xd4)) + 1, out)
			return null
		0xc7, 0xc8, 0xc9:
			_skip(buf, _read_len(buf, c - 0xc7, out) + 1, out)
			return null
	out[0] = false
	return null


# Length field of 1, 2 or 4 bytes (size_code 0, 1, 2).
static func _read_len(buf: StreamPeerBuffer, size_code: int, out: Array) -> int:
	var n: int = 1 << size_code
	if not _need(buf, n, out):
		return 0
	if n == 1:
		return buf.get_u8()
	if n == 2:
		return buf.get_u16()
	return buf.get_u32()


static func _skip(buf: StreamPeerBuffer, n: int, out: Array) -> void:
	if _need(buf, n, out):
		buf.seek(buf.get_position() + n)


static func _read_str(buf: StreamPeerBuffer, n: int, out: Array):
	if not out[0] or not _need(buf, n, out):
		return null
	if n == 0:
		return ""
	var b: PackedByteArray = buf.get_data(n)[1]
	return b.get_string_from_utf8()


static func _read_array(buf: StreamPeerBuffer, n: int, out: Array, depth: int):
	if not out[0] or not _need(buf, n, out):
		return null
	var a := []
	for _i in range(n):
		a.append(_read(buf, out, depth + 1))
		if not out[0]:
			return null
	return a


static func _read_map(buf: StreamPeerBuffer, n: int, out: Array, depth: int):
	if not out[0] or not _need(buf, 2 * n, out):
		return null
	var d := {}
	for _i in range(n):
		var k = _read(buf, out, depth + 1)
		var v = _read(buf, out, depth + 1)
		if not out[0]:
			return null
		d[k] = v
	return d
