// A small msgpack encoder/decoder: exactly what the soundscape protocol needs, no dependency.
// Encoding follows msgpack-python (smallest int form, float64 for every double, str8/16/32 for
// strings), so this client puts the same bytes on the wire as the Python and C clients.
// C# 7, no unsafe code, no reflection: runs on Mono, IL2CPP (Android/Quest) and .NET.
using System;
using System.Collections.Generic;
using System.Text;

namespace Soundscape
{
    /// <summary>Growable msgpack writer. Reused per message: Reset() keeps the buffer.</summary>
    public sealed class MsgPackWriter
    {
        byte[] _buf;
        int _n;

        public MsgPackWriter(int capacity = 256) { _buf = new byte[capacity]; }

        public int Length { get { return _n; } }
        public byte[] Buffer { get { return _buf; } }
        public void Reset() { _n = 0; }

        public byte[] ToArray()
        {
            var a = new byte[_n];
            System.Buffer.BlockCopy(_buf, 0, a, 0, _n);
            return a;
        }

        void Reserve(int extra)
        {
            if (_n + extra <= _buf.Length) return;
            int cap = _buf.Length * 2;
            while (cap < _n + extra) cap *= 2;
            Array.Resize(ref _buf, cap);
        }

        void Byte(byte b) { Reserve(1); _buf[_n++] = b; }

        void BigEndian(ulong x, int bytes)
        {
            Reserve(bytes);
            for (int i = bytes - 1; i >= 0; i--) _buf[_n++] = (byte)(x >> (8 * i));
        }

        public void WriteNil() { Byte(0xc0); }
        public void WriteBool(bool v) { Byte(v ? (byte)0xc3 : (byte)0xc2); }

        public void WriteInt(long v)
        {
            if (v >= 0)
            {
                ulong u = (ulong)v;
                if (u < 128) Byte((byte)u);
                else if (u < 256) { Byte(0xcc); BigEndian(u, 1); }
                else if (u < 65536) { Byte(0xcd); BigEndian(u, 2); }
                else if (u < 4294967296UL) { Byte(0xce); BigEndian(u, 4); }
                else { Byte(0xcf); BigEndian(u, 8); }
            }
            else if (v >= -32) Byte((byte)(0xe0 | (int)(v + 32)));
            else if (v >= -128) { Byte(0xd0); BigEndian((ulong)v, 1); }
            else if (v >= -32768) { Byte(0xd1); BigEndian((ulong)v, 2); }
            else if (v >= int.MinValue) { Byte(0xd2); BigEndian((ulong)v, 4); }
            else { Byte(0xd3); BigEndian((ulong)v, 8); }
        }

        public void WriteDouble(double v)
        {
            Byte(0xcb);
            BigEndian((ulong)BitConverter.DoubleToInt64Bits(v), 8);
        }

        public void WriteString(string s)
        {
            int n = Encoding.UTF8.GetByteCount(s);
            if (n < 32) Byte((byte)(0xa0 | n));
            else if (n < 256) { Byte(0xd9); BigEndian((ulong)n, 1); }
            else if (n < 65536) { Byte(0xda); BigEndian((ulong)n, 2); }
            else { Byte(0xdb); BigEndian((ulong)n, 4); }
            Reserve(n);
            _n += Encoding.UTF8.GetBytes(s, 0, s.Length, _buf, _n);
        }

        public void WriteMapHeader(int n)
        {
            if (n < 16) Byte((byte)(0x80 | n));
            else if (n < 65536) { Byte(0xde); BigEndian((ulong)n, 2); }
            else { Byte(0xdf); BigEndian((ulong)n, 4); }
        }

        public void WriteArrayHeader(int n)
        {
            if (n < 16) Byte((byte)(0x90 | n));
            else if (n < 65536) { Byte(0xdc); BigEndian((ulong)n, 2); }
            else { Byte(0xdd); BigEndian((ulong)n, 4); }
        }

        public void WriteVec3(SVec3 v)
        {
            WriteArrayHeader(3);
            WriteDouble(v.X);
            WriteDouble(v.Y);
            WriteDouble(v.Z);
        }

        public void WriteRaw(byte[] data, int offset, int count)
        {
            Reserve(count);
            System.Buffer.BlockCopy(data, offset, _buf, _n, count);
            _n += count;
        }

        /// <summary>Any supported value: null, bool, integers, float/double, string, SVec3,
        /// IDictionary&lt;string, object&gt;, IList&lt;object&gt;, KeyValuePair lists (ordered maps).</summary>
        public void Write(object o)
        {
            if (o == null) { WriteNil(); return; }
            if (o is bool) { WriteBool((bool)o); return; }
            if (o is double) { WriteDouble((double)o); return; }
            if (o is float) { WriteDouble((float)o); return; }
            if (o is int) { WriteInt((int)o); return; }
            if (o is long) { WriteInt((long)o); return; }
            if (o is uint) { WriteInt((uint)o); return; }
            if (o is string) { WriteString((string)o); return; }
            if (o is SVec3) { WriteVec3((SVec3)o); return; }
            var pairs = o as IList<KeyValuePair<string, double>>;
            if (pairs != null)
            {
                WriteMapHeader(pairs.Count);
                foreach (var kv in pairs) { WriteString(kv.Key); WriteDouble(kv.Value); }
                return;
            }
            var map = o as IDictionary<string, object>;
            if (map != null)
            {
                WriteMapHeader(map.Count);
                foreach (var kv in map) { WriteString(kv.Key); Write(kv.Value); }
                return;
            }
            var list = o as System.Collections.IList;
            if (list != null)
            {
                WriteArrayHeader(list.Count);
                foreach (var x in list) Write(x);
                return;
            }
            throw new ArgumentException("msgpack: cannot encode a " + o.GetType().Name);
        }
    }

    /// <summary>Decodes one msgpack value into plain objects: null, bool, long, double, string,
    /// byte[], List&lt;object&gt;, Dictionary&lt;string, object&gt; (insertion order kept).</summary>
    public static class MsgPackReader
    {
        public static object Decode(byte[] data) { return Decode(data, 0, data.Length); }

        public static object Decode(byte[] data, int offset, int count)
        {
            int p = offset, end = offset + count;
            object v = Read(data, ref p, end, 0);
            if (p != end) throw new FormatException("msgpack: trailing bytes");
            return v;
        }

        static ulong Be(byte[] d, ref int p, int end, int n)
        {
            if (end - p < n) throw new FormatException("msgpack: truncated");
            ulong x = 0;
            for (int i = 0; i < n; i++) x = (x << 8) | d[p + i];
            p += n;
            return x;
        }

        static string Str(byte[] d, ref int p, int end, ulong n)
        {
            if ((ulong)(end - p) < n) throw new FormatException("msgpack: truncated string");
            string s = Encoding.UTF8.GetString(d, p, (int)n);
            p += (int)n;
            return s;
        }

        static byte[] Bin(byte[] d, ref int p, int end, ulong n)
        {
            if ((ulong)(end - p) < n) throw new FormatException("msgpack: truncated bin");
            var b = new byte[n];
            System.Buffer.BlockCopy(d, p, b, 0, (int)n);
            p += (int)n;
            return b;
        }

        static object Array(byte[] d, ref int p, int end, ulong n, int depth)
        {
            if (n > (ulong)(end - p)) throw new FormatException("msgpack: array longer than the data");
            var list = new List<object>((int)n);
            for (ulong i = 0; i < n; i++) list.Add(Read(d, ref p, end, depth + 1));
            return list;
        }

        static object Map(byte[] d, ref int p, int end, ulong n, int depth)
        {
            if (2 * n > (ulong)(end - p)) throw new FormatException("msgpack: map longer than the data");
            var map = new Dictionary<string, object>((int)n);
            for (ulong i = 0; i < n; i++)
            {
                object k = Read(d, ref p, end, depth + 1);
                object v = Read(d, ref p, end, depth + 1);
                map[k as string ?? Convert.ToString(k, System.Globalization.CultureInfo.InvariantCulture)] = v;
            }
            return map;
        }

        static object Read(byte[] d, ref int p, int end, int depth)
        {
            if (depth > 64) throw new FormatException("msgpack: nested too deep");
            if (p >= end) throw new FormatException("msgpack: truncated");
            byte c = d[p++];
            if (c <= 0x7f) return (long)c;
            if (c >= 0xe0) return (long)(sbyte)c;
            if ((c & 0xf0) == 0x80) return Map(d, ref p, end, (ulong)(c & 0x0f), depth);
            if ((c & 0xf0) == 0x90) return Array(d, ref p, end, (ulong)(c & 0x0f), depth);
            if ((c & 0xe0) == 0xa0) return Str(d, ref p, end, (ulong)(c & 0x1f));
            switch (c)
            {
                case 0xc0: return null;
                case 0xc2: return false;
                case 0xc3: return true;
                case 0xc4: return Bin(d, ref p, end, Be(d, ref p, end, 1));
                case 0xc5: return Bin(d, ref p, end, Be(d, ref p, end, 2));
                case 0xc6: return Bin(d, ref p, end, Be(d, ref p, end, 4));
                case 0xca: return (double)BitConverter.ToSingle(BitConverter.GetBytes((int)Be(d, ref p, end, 4)), 0);
                case 0xcb: return BitConverter.Int64BitsToDouble((long)Be(d, ref p, end, 8));
                case 0xcc: return (long)Be(d, ref p, end, 1);
                case 0xcd: return (long)Be(d, ref p, end, 2);
                case 0xce: return (long)Be(d, ref p, end, 4);
                case 0xcf: return (long)Be(d, ref p, end, 8);
                case 0xd0: return (long)(sbyte)Be(d, ref p, end, 1);
                case 0xd1: return (long)(short)Be(d, ref p, end, 2);
                case 0xd2: return (long)(int)Be(d, ref p, end, 4);
                case 0xd3: return (long)Be(d, ref p, end, 8);
                case 0xd9: return Str(d, ref p, end, Be(d, ref p, end, 1));
                case 0xda: return Str(d, ref p, end, Be(d, ref p, end, 2));
                case 0xdb: return Str(d, ref p, end, Be(d, ref p, end, 4));
                case 0xdc: return Array(d, ref p, end, Be(d, ref p, end, 2), depth);
                case 0xdd: return Array(d, ref p, end, Be(d, ref p, end, 4), depth);
                case 0xde: return Map(d, ref p, end, Be(d, ref p, end, 2), depth);
                case 0xdf: return Map(d, ref p, end, Be(d, ref p, end, 4), depth);
                case 0xd4: p += 2; break;
                case 0xd5: p += 3; break;
                case 0xd6: p += 5; break;
                case 0xd7: p += 9; break;
                case 0xd8: p += 17; break;
                case 0xc7: { ulong n = Be(d, ref p, end, 1); p += (int)n + 1; break; }
                case 0xc8: { ulong n = Be(d, ref p, end, 2); p += (int)n + 1; break; }
                case 0xc9: { ulong n = Be(d, ref p, end, 4); p += (int)n + 1; break; }
                default: throw new FormatException("msgpack: bad byte 0x" + c.ToString("x2"));
            }
            if (p > end) throw new FormatException("msgpack: truncated ext");
            return null; // extension types are not part of the protocol: read as nil
        }
    }

    /// <summary>A double-precision vector in the protocol's axes (OpenGL: -Z forward, +Y up, metres).
    /// Unity's axes differ (+Z forward): the Unity components convert with FromUnity.</summary>
    public struct SVec3
    {
        public double X, Y, Z;
        public SVec3(double x, double y, double z) { X = x; Y = y; Z = z; }
        public static readonly SVec3 Zero = new SVec3(0, 0, 0);
        public static readonly SVec3 Forward = new SVec3(0, 0, -1);
        public static readonly SVec3 Up = new SVec3(0, 1, 0);
        public override string ToString() { return "(" + X + ", " + Y + ", " + Z + ")"; }
    }
}
