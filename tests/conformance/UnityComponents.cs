// Drive the Unity components (SoundscapeManager, SoundscapeListener, SoundscapeEmitter) outside
// Unity, on the UnityEngine stub, against a real daemon: call their Unity messages (Awake, Update,
// LateUpdate) the way the engine would, by reflection, and print what came back on the "main thread".
//   mono UnityComponents.exe CMD PUB     (PUB: the daemon's telemetry, or a relay adding beats)
using System;
using System.Diagnostics;
using System.Reflection;
using System.Threading;
using Soundscape;
using UnityEngine;

static class UnityComponents
{
    static void Message(object component, string name)
    {
        var m = component.GetType().GetMethod(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
        m.Invoke(component, null);
    }

    static void Field(object component, string name, object value)
    {
        component.GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic).SetValue(component, value);
    }

    static void Say(string line)
    {
        Console.Out.Write(line + "\n");
        Console.Out.Flush();
    }

    static int Main(string[] args)
    {
        var managerObject = new GameObject("Soundscape");
        var manager = managerObject.AddComponent<SoundscapeManager>();
        Field(manager, "commandEndpoint", args[0]);
        Field(manager, "telemetryEndpoint", args[1]);
        Field(manager, "topics", new[] { "instance_", "beat", "bar" });
        bool connected = false, sceneSeen = false;
        long started = -1;
        int mainThread = Thread.CurrentThread.ManagedThreadId, beats = 0, bars = 0, offThread = 0;
        manager.Beat += (beat, bar) =>
        {
            if (Thread.CurrentThread.ManagedThreadId != mainThread) offThread++;
            if (beats++ == 0) Say("first beat " + beat + " of bar " + bar);
        };
        manager.Bar += bar =>
        {
            if (Thread.CurrentThread.ManagedThreadId != mainThread) offThread++;
            bars++;
        };
        manager.ConnectionChanged += up => connected |= up;
        manager.SceneChanged += scene => { sceneSeen = true; Say("scene " + scene["name"]); };
        manager.Telemetry += (topic, payload) =>
        {
            if (topic == "instance_started") Say("telemetry instance_started " + SoundscapeClient.AsLong(payload, "instance"));
        };
        Message(manager, "Awake");

        var camera = new GameObject("Main Camera");
        var listener = camera.AddComponent<SoundscapeListener>();
        camera.transform.position = new Vector3(1f, 2f, 3f);       // Unity axes: +Z forward
        camera.transform.forward = new Vector3(0f, 0f, 1f);

        var car = new GameObject("Car");
        var emitter = car.AddComponent<SoundscapeEmitter>();
        car.transform.position = new Vector3(10f, 0f, 5f);
        car.transform.forward = new Vector3(1f, 0f, 0f);

        var watch = Stopwatch.StartNew();
        bool played = false;
        while (watch.ElapsedMilliseconds < 10000)
        {
            Time.unscaledTime = watch.ElapsedMilliseconds / 1000f;
            Message(manager, "Update");                      // dispatches callbacks: the main thread
            if (connected && sceneSeen && !played)
            {
                Message(listener, "LateUpdate");
                Message(emitter, "LateUpdate");
                emitter.Play("ping", null, id => { started = id; Say("emitter started " + id); });
                played = true;
            }
            if (started > 0 && emitter.Playing.Count == 1) break;
            Thread.Sleep(5);
        }
        var sync = manager.Client.Sync();
        sync.Wait(5000);
        // Let the instance_started telemetry arrive, then one more frame of callbacks.
        for (int i = 0; i < 100 && watch.ElapsedMilliseconds < 15000; i++)
        {
            Message(manager, "Update");
            Thread.Sleep(10);
        }
        Say("beats " + (beats > 0) + " bars " + (bars > 0) + " off-main-thread " + offThread);
        Say("sync " + (sync.IsOk ? "ok" : sync.ErrorCode));
        Message(manager, "OnDestroy");
        return started > 0 ? 0 : 1;
    }
}
