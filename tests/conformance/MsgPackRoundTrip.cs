// Decode each hex line of a corpus with the Unity package's MsgPackReader, encode it again with
// MsgPackWriter, print hex (tests/test_bindings_sources.py compares with msgpack-python).
using System;
using System.IO;
using System.Text;
using Soundscape;

static class MsgPackRoundTrip
{
    static int Main(string[] args)
    {
        foreach (var raw in File.ReadAllLines(args[0]))
        {
            string line = raw.Trim();
            if (line.Length == 0) continue;
            var bytes = new byte[line.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(line.Substring(2 * i, 2), 16);
            var w = new MsgPackWriter();
            try
            {
                w.Write(MsgPackReader.Decode(bytes));
            }
            catch (FormatException)
            {
                Console.WriteLine("error");
                continue;
            }
            var sb = new StringBuilder();
            foreach (var b in w.ToArray()) sb.Append(b.ToString("x2"));
            Console.WriteLine(sb.ToString());
        }
        return 0;
    }
}
