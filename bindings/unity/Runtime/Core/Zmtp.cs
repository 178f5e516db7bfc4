// ZMTP 3.0 (ZeroMQ's wire protocol, rfc.zeromq.org/spec/23) with the NULL mechanism, over a plain
// TCP socket: enough to be a DEALER or a SUB peer of libzmq, with no native plug-in.
using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Soundscape
{
    /// <summary>One ZMTP connection. Blocking reads from one reader thread; Send from any thread.
    /// Throws SocketException/IOException when the peer goes away. To stop a reader, call
    /// Shutdown() (it wakes the blocked read) and let the reader Dispose() the connection: closing
    /// a socket under a thread blocked in it can crash Mono.</summary>
    public sealed class ZmtpConnection : IDisposable
    {
        readonly Socket _sock;
        readonly byte[] _one = new byte[8];
        readonly object _sendLock = new object();
        bool _closed;

        public string PeerSocketType { get; private set; }

        ZmtpConnection(Socket s) { _sock = s; }

        /// <summary>Connect and handshake as `socketType` ("DEALER" or "SUB").</summary>
        public static ZmtpConnection Open(string host, int port, string socketType, int timeoutMs)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                s.NoDelay = true;
                IAsyncResult ar = s.BeginConnect(host, port, null, null);
                if (!ar.AsyncWaitHandle.WaitOne(timeoutMs))
                    throw new TimeoutException("connect to " + host + ":" + port + " timed out");
                s.EndConnect(ar);
                s.ReceiveTimeout = timeoutMs;
                s.SendTimeout = timeoutMs;
                var c = new ZmtpConnection(s);
                c.Handshake(socketType);
                s.ReceiveTimeout = 0; // reads block until data or close; the reader thread owns them
                return c;
            }
            catch
            {
                s.Close();
                throw;
            }
        }

        void Handshake(string socketType)
        {
            // Greeting: signature, version 3.0, mechanism NULL, as-server 0, filler.
            var g = new byte[64];
            g[0] = 0xff;
            g[9] = 0x7f;
            g[10] = 3;
            g[11] = 0;
            Encoding.ASCII.GetBytes("NULL", 0, 4, g, 12);
            SendAll(g, 0, 64);
            var peer = new byte[64];
            ReadExact(peer, 0, 64);
            if (peer[0] != 0xff || peer[9] != 0x7f)
                throw new ProtocolViolationException("not a ZeroMQ peer (bad greeting signature)");
            if (peer[10] < 3)
                throw new ProtocolViolationException("peer speaks ZMTP " + peer[10] + ".x; 3.0 or later needed");
            if (Encoding.ASCII.GetString(peer, 12, 4) != "NULL")
                throw new ProtocolViolationException("peer wants a security mechanism other than NULL (CURVE?)");
            // READY command with our socket type.
            var body = new List<byte>();
            body.Add(5);
            body.AddRange(Encoding.ASCII.GetBytes("READY"));
            byte[] name = Encoding.ASCII.GetBytes("Socket-Type"), value = Encoding.ASCII.GetBytes(socketType);
            body.Add((byte)name.Length);
            body.AddRange(name);
            body.Add(0); body.Add(0); body.Add(0); body.Add((byte)value.Length);
            body.AddRange(value);
            var frame = new byte[2 + body.Count];
            frame[0] = 0x04;
            frame[1] = (byte)body.Count;
            body.CopyTo(frame, 2);
            SendAll(frame, 0, frame.Length);
            bool more, command;
            byte[] cmd = ReadFrame(out more, out command);
            while (!command) cmd = ReadFrame(out more, out command);
            if (cmd.Length < 6 || cmd[0] != 5 || Encoding.ASCII.GetString(cmd, 1, 5) != "READY")
            {
                string text = cmd.Length > 6 ? Encoding.ASCII.GetString(cmd, 1, Math.Min(cmd[0], cmd.Length - 1)) : "?";
                throw new ProtocolViolationException("peer refused the handshake (" + text + ")");
            }
            PeerSocketType = "";
            int p = 6;
            while (p < cmd.Length)
            {
                int nl = cmd[p++];
                string key = Encoding.ASCII.GetString(cmd, p, nl);
                p += nl;
                int vl = (cmd[p] << 24) | (cmd[p + 1] << 16) | (cmd[p + 2] << 8) | cmd[p + 3];
                p += 4;
                if (key.Equals("Socket-Type", StringComparison.OrdinalIgnoreCase))
                    PeerSocketType = Encoding.ASCII.GetString(cmd, p, vl);
                p += vl;
            }
        }

        /// <summary>Encode one message frame (flags + size + body) into `w`.</summary>
        public static void AppendFrame(MsgPackWriter w, byte[] body, int offset, int count, bool more)
        {
            var head = new byte[9];
            int n;
            if (count <= 255)
            {
                head[0] = (byte)(more ? 0x01 : 0x00);
                head[1] = (byte)count;
                n = 2;
            }
            else
            {
                head[0] = (byte)(more ? 0x03 : 0x02);
                ulong c = (ulong)count;
                for (int i = 0; i < 8; i++) head[1 + i] = (byte)(c >> (8 * (7 - i)));
                n = 9;
            }
            w.WriteRaw(head, 0, n);
            w.WriteRaw(body, offset, count);
        }

        /// <summary>Write all bytes (serialised with Dispose, so a close never races a write).</summary>
        public void Send(byte[] data, int offset, int count)
        {
            lock (_sendLock)
            {
                if (_closed) throw new ObjectDisposedException("ZmtpConnection");
                SendAll(data, offset, count);
            }
        }

        void SendAll(byte[] data, int offset, int count)
        {
            while (count > 0)
            {
                int n = _sock.Send(data, offset, count, SocketFlags.None);
                if (n <= 0) throw new SocketException((int)SocketError.ConnectionReset);
                offset += n;
                count -= n;
            }
        }

        void ReadExact(byte[] buf, int offset, int count)
        {
            while (count > 0)
            {
                int n = _sock.Receive(buf, offset, count, SocketFlags.None);
                if (n <= 0) throw new SocketException((int)SocketError.ConnectionReset);
                offset += n;
                count -= n;
            }
        }

        /// <summary>Read one frame (message part or command). Blocks.</summary>
        public byte[] ReadFrame(out bool more, out bool command)
        {
            ReadExact(_one, 0, 1);
            byte flags = _one[0];
            ulong size;
            if ((flags & 0x02) != 0)
            {
                ReadExact(_one, 0, 8);
                size = 0;
                for (int i = 0; i < 8; i++) size = (size << 8) | _one[i];
            }
            else
            {
                ReadExact(_one, 0, 1);
                size = _one[0];
            }
            if (size > 64UL * 1024 * 1024) throw new ProtocolViolationException("frame of " + size + " bytes");
            var body = new byte[size];
            ReadExact(body, 0, (int)size);
            more = (flags & 0x01) != 0;
            command = (flags & 0x04) != 0;
            return body;
        }

        /// <summary>Read one whole message (all parts); commands such as PING are skipped.</summary>
        public List<byte[]> ReadMessage()
        {
            var parts = new List<byte[]>(2);
            while (true)
            {
                bool more, command;
                byte[] f = ReadFrame(out more, out command);
                if (command) continue;
                parts.Add(f);
                if (!more) return parts;
            }
        }

        /// <summary>Wake a reader blocked in this connection; the socket stays open until Dispose.</summary>
        public void Shutdown()
        {
            try { _sock.Shutdown(SocketShutdown.Both); } catch (Exception) { }
        }

        public void Dispose()
        {
            Shutdown();
            lock (_sendLock)
            {
                if (_closed) return;
                _closed = true;
                _sock.Close();
            }
        }
    }
}
