// Print the first sound caption from the daemon's telemetry, through SoundscapeClient.Caption
// (tests/test_captions_bindings.py). Arguments: COMMAND_ENDPOINT PUB_ENDPOINT.
using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using Soundscape;

static class CaptionCs
{
    static string F(double? v, string fmt)
    {
        return (v ?? 0.0).ToString(fmt, CultureInfo.InvariantCulture);
    }

    static int Main(string[] args)
    {
        var c = new SoundscapeClient(args[0], args[1]);
        SoundscapeCaption got = null;
        c.Caption += caption => { if (got == null) got = caption; };
        c.Subscribe("caption");
        c.Start();
        Console.Out.Write("ready\n");
        Console.Out.Flush();
        var watch = Stopwatch.StartNew();
        while (got == null && watch.ElapsedMilliseconds < 20000)
        {
            c.DispatchCallbacks();
            Thread.Sleep(5);
        }
        if (got == null) return 1;
        Console.Out.Write(string.Format("caption {0}|{1}|{2}|{3}|{4}|{5}|{6}|{7}|{8}|{9}\n", got.Text, got.Importance,
            got.Direction.HasValue ? 1 : 0, F(got.Direction, "F2"), F(got.Distance, "F3"), F(got.LoudnessDb, "F2"),
            got.Synthetic ? 1 : 0, got.Subtitle ? 1 : 0, got.Count, got.Frame));
        Console.Out.Flush();
        c.Dispose();
        return 0;
    }
}
