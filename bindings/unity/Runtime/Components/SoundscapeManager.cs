// The scene-wide owner of the SoundscapeClient: one per game (a singleton that survives scene
// loads). It pumps callbacks on Unity's main thread every frame, so every event below, every
// request's Then(...) and every component callback runs on the main thread: safe to touch
// GameObjects there. The network itself runs on the client's background threads: nothing here
// ever waits on a socket.
using System;
using System.Collections.Generic;
using UnityEngine;

namespace Soundscape
{
    [DisallowMultipleComponent]
    [DefaultExecutionOrder(-1000)]
    [AddComponentMenu("Soundscape/Soundscape Manager")]
    public sealed class SoundscapeManager : MonoBehaviour
    {
        [Tooltip("The daemon's command socket, as `soundscape serve` prints it")]
        [SerializeField] string commandEndpoint = "tcp://127.0.0.1:5570";
        [Tooltip("The daemon's telemetry socket; empty for none (no callbacks)")]
        [SerializeField] string telemetryEndpoint = "tcp://127.0.0.1:5571";
        [SerializeField] string clientName = "unity";
        [Tooltip("Telemetry topic prefixes to receive (beat, bar, marker, instance_, error, ...)")]
        [SerializeField] string[] topics = { "beat", "bar", "marker", "instance_", "error", "caption" };
        [SerializeField] bool dontDestroyOnLoad = true;
        [SerializeField] bool logErrors = true;

        /// <summary>The manager of the running game (null before Awake).</summary>
        public static SoundscapeManager Instance { get; private set; }

        public SoundscapeClient Client { get; private set; }
        /// <summary>The scene the daemon plays (from hello): parameters, states, switches, events.</summary>
        public Dictionary<string, object> Scene { get; private set; }

        /// <summary>beat number in bar (1-based), bar number (1-based). Main thread.</summary>
        public event Action<int, int> Beat;
        public event Action<int> Bar;
        /// <summary>A sound caption or a spoken line's subtitle (topic "caption"). Main thread.</summary>
        public event Action<SoundscapeCaption> Caption;
        /// <summary>Every telemetry message (topic, payload). Main thread.</summary>
        public event Action<string, Dictionary<string, object>> Telemetry;
        /// <summary>Connected (true) or lost (false); after a reconnect hello is sent again.</summary>
        public event Action<bool> ConnectionChanged;
        public event Action<Dictionary<string, object>> SceneChanged;

        void Awake()
        {
            if (Instance != null && Instance != this)
            {
                Debug.LogWarning("Soundscape: a second SoundscapeManager was disabled; one per game is enough.");
                enabled = false;
                return;
            }
            Instance = this;
            if (dontDestroyOnLoad) DontDestroyOnLoad(gameObject);
            Client = new SoundscapeClient(commandEndpoint, telemetryEndpoint) { Name = clientName };
            foreach (var t in topics) Client.Subscribe(t);
            Client.Telemetry += OnTelemetry;
            Client.Caption += c => { var h = Caption; if (h != null) h(c); };
            Client.ConnectionChanged += OnConnection;
            Client.Start();
        }

        void OnConnection(bool up)
        {
            if (up)
            {
                Client.Hello().Then(r =>
                {
                    if (!r.IsOk) { Debug.LogWarning("Soundscape: hello failed: " + r.Error); return; }
                    Scene = r.Reply["scene"] as Dictionary<string, object>;
                    var changed = SceneChanged;
                    if (changed != null) changed(Scene);
                });
            }
            var handler = ConnectionChanged;
            if (handler != null) handler(up);
        }

        void OnTelemetry(string topic, Dictionary<string, object> payload)
        {
            if (topic == "beat")
            {
                var beat = Beat;
                if (beat != null) beat((int)SoundscapeClient.AsLong(payload, "beat"), (int)SoundscapeClient.AsLong(payload, "bar"));
            }
            else if (topic == "bar")
            {
                var bar = Bar;
                if (bar != null) bar((int)SoundscapeClient.AsLong(payload, "bar"));
            }
            else if (topic == "error" && logErrors)
            {
                object msg;
                payload.TryGetValue("message", out msg);
                Debug.LogWarning("Soundscape daemon: " + msg);
            }
            var all = Telemetry;
            if (all != null) all(topic, payload);
        }

        void Update()
        {
            if (Client != null) Client.DispatchCallbacks();
        }

        void OnDestroy()
        {
            if (Instance == this) Instance = null;
            if (Client != null) Client.Dispose();
            Client = null;
        }

        /// <summary>Unity (left-handed, +Z forward) to protocol axes (right-handed, -Z forward).</summary>
        public static SVec3 ToProtocol(Vector3 v) { return new SVec3(v.x, v.y, -v.z); }
    }
}
