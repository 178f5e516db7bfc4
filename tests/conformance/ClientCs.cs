// The conformance script (SCRIPT.md) through the C# client (bindings/unity/Runtime/Core), run with
// mono outside Unity. `--latency N CMD PUB` instead times N request/reply round trips.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Soundscape;

static class ClientCs
{
    const string U = "Tür-ドア-🚪";

    static SoundscapeClient c;
    static readonly Queue<string> Said = new Queue<string>(); // filled by callbacks on this thread

    static SoundscapeRequest Done(SoundscapeRequest r, int ms = 5000)
    {
        if (!r.Wait(ms) || !r.IsOk)
        {
            Console.Error.WriteLine(r.Type + " failed: " + (r.IsDone ? r.ErrorCode + ": " + r.Error : "timeout"));
            Environment.Exit(1);
        }
        return r;
    }

    static void WaitSaid()
    {
        var watch = Stopwatch.StartNew();
        while (Said.Count == 0 && watch.ElapsedMilliseconds < 10000)
        {
            c.DispatchCallbacks();
            Thread.Sleep(5);
        }
        if (Said.Count > 0) Say("said " + Said.Dequeue());
    }

    static void Say(string line)
    {
        Console.Out.Write(line + "\n");
        Console.Out.Flush();
    }

    static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--latency") return Latency(int.Parse(args[1]), args[2], args[3]);
        string cmd = args[0], pub = args[1], go = args[2];
        c = new SoundscapeClient(cmd, pub) { Name = "conformance" };
        long endedWanted = -1, endedGot = -1;
        c.Telemetry += (topic, payload) =>
        {
            if (topic == "instance_ended" && SoundscapeClient.AsLong(payload, "instance") == Interlocked.Read(ref endedWanted))
                Interlocked.Exchange(ref endedGot, endedWanted);
            if (topic == "say") Said.Enqueue((string)payload["preset"]);
        };
        c.Subscribe("instance_");
        c.Subscribe("say");
        c.Start();

        var h = Done(c.Hello()).Reply;
        var scene = (Dictionary<string, object>)h["scene"];
        Say("hello " + SoundscapeClient.AsLong(h, "protocol") + " " + scene["name"]);
        c.SetParam("intensity", 0.25);
        c.SetParam("speed", 42.0);
        c.SetState("weather", "rain");
        c.SetSwitch("surface", "gravel");
        c.SetSwitch("surface", "wood", U);
        long i1 = Done(c.Trigger("ping", new SVec3(1.5, -2.0, 3.25))).Instance;
        Say("trigger " + i1);
        var prms = new List<KeyValuePair<string, double>>
        {
            new KeyValuePair<string, double>("größe", 0.5),
            new KeyValuePair<string, double>("pitch", -1.0),
        };
        long i2 = Done(c.Trigger("hum", null, prms, U)).Instance;
        Say("trigger " + i2);
        c.Listener(new SVec3(0.1, 1.7, 0.0), new SVec3(0.0, 0.0, -1.0), new SVec3(0.0, 1.0, 0.0), new SVec3(0.5, 0.0, 0.0));
        c.Object(U, new SVec3(2.0, 0.0, -3.5), new SVec3(1.0, 0.0, 0.0), new SVec3(0.0, 0.0, 0.1));
        c.Snapshot("underwater", true);
        c.Stop(i2, false);
        var b = c.Batch()
            .SetParam("intensity", 0.75)
            .SetState("area", "cave")
            .Trigger("stinger", new SVec3(0.0, 0.0, -1.0))
            .Object("car1", new SVec3(10.0, 0.0, -4.0));
        var results = (List<object>)Done(b.Send()).Reply["results"];
        var line = "batch";
        foreach (var r in results) line += " " + SoundscapeClient.AsLong((Dictionary<string, object>)r, "instance");
        Say(line);
        c.SetState("weather", "storm", 100.0);
        c.SetParam("intensity", 0.5, 100.25);
        Say("trigger " + Done(c.Trigger("ping", null, null, null, 100.5)).Instance);
        c.Batch().SetSwitch("surface", "grass").Listener(new SVec3(1.0, 1.7, 0.0)).Send(101.0, false);
        Done(c.Sync());
        Say("sync");
        Interlocked.Exchange(ref endedWanted, i1);
        var watch = Stopwatch.StartNew();
        while (Interlocked.Read(ref endedGot) < 0 && watch.ElapsedMilliseconds < 5000)
        {
            c.DispatchCallbacks(); // the "main thread": callbacks run here
            Thread.Sleep(10);
        }
        if (endedGot >= 0) Say("ended " + endedGot);
        var surface = new List<KeyValuePair<string, string>> { new KeyValuePair<string, string>("surface", "wood") };
        long i6 = Done(c.Trigger("hum", null, null, U, SoundscapeClient.Now, surface)).Instance;
        Say("trigger " + i6);
        c.Stinger("victory");
        c.SetWeight("door.creak", 0.25);
        c.Profile(new SoundscapeProfile
        {
            Name = "conformance",
            AudiogramLeft = new[] { 10.0, 20.0, 30.0, 40.0, 50.0, 60.0 },
            AudiogramRight = new[] { 15.0, 20.0, 30.0, 45.0, 60.0, 70.0 },
            Prescription = "half-gain",
            MaxGainDb = 20.0,
            Mono = true,
            DynamicRange = "home",
            VolumeDb = new List<KeyValuePair<string, double>>
            {
                new KeyValuePair<string, double>("music", -6.0),
                new KeyValuePair<string, double>("dialogue", 3.0),
            },
            DialogueBoostDb = 6.0,
            Preferences = new List<KeyValuePair<string, double>>
            {
                new KeyValuePair<string, double>("ambience", 0.25),
                new KeyValuePair<string, double>("startle", 0.75),
            },
        });
        c.Say("Die Brücke ist weg, Fremder.", "ogre", null, new SVec3(1.0, 0.0, -2.0));
        WaitSaid();
        var grass = new List<KeyValuePair<string, string>> { new KeyValuePair<string, string>("surface", "grass") };
        var all = c.Batch()
            .SetSwitch("surface", "gravel", U)
            .Snapshot("underwater", false)
            .Stinger("victory")
            .Trigger("ping", null, null, null, grass)
            .Stop(i6, true)
            .Say("Ja.", null, "door")
            .SetWeight("door.creak", null);
        line = "batch";
        foreach (var r in (List<object>)Done(all.Send()).Reply["results"])
            line += " " + SoundscapeClient.AsLong((Dictionary<string, object>)r, "instance");
        Say(line);
        WaitSaid();
        var load = c.LoadScene("dungeon.yaml");
        load.Wait(15000);
        Say("load_scene " + (load.IsOk ? "ok" : load.ErrorCode));
        line = "stats";
        foreach (var key in ((Dictionary<string, object>)Done(c.Stats()).Reply["stats"]).Keys) line += " " + key;
        Say(line);
        Say("part1");
        watch.Restart();
        while (!File.Exists(go) && watch.ElapsedMilliseconds < 60000) Thread.Sleep(20);

        h = Done(c.Hello(), 10000).Reply;
        scene = (Dictionary<string, object>)h["scene"];
        Say("hello " + SoundscapeClient.AsLong(h, "protocol") + " " + scene["name"]);
        c.SetParam("speed", 7.5);
        Say("trigger " + Done(c.Trigger("ping", new SVec3(0.0, 0.0, 0.0))).Instance);
        Done(c.Sync());
        Say("sync");
        Say("done");
        if (c.Reconnects < 1) Console.Error.WriteLine("expected a reconnect, saw " + c.Reconnects);
        c.Dispose();
        return 0;
    }

    static int Latency(int n, string cmd, string pub)
    {
        var c = new SoundscapeClient(cmd, pub).Start();
        Done(c.Hello());
        foreach (var kind in new[] { "stats", "sync" })
        {
            var ms = new double[n];
            for (int i = 0; i < n; i++)
            {
                var w = Stopwatch.StartNew();
                Done(kind == "stats" ? c.Stats() : c.Sync());
                ms[i] = w.Elapsed.TotalMilliseconds;
            }
            Array.Sort(ms);
            Say(string.Format(System.Globalization.CultureInfo.InvariantCulture,
                "round trip {0} x{1}: median {2:F3} ms, p99 {3:F3} ms", kind, n, ms[n / 2], ms[n * 99 / 100]));
        }
        c.Dispose();
        return 0;
    }
}
