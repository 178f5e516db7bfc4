// SoundscapeClient: the soundscape daemon's protocol (docs/protocol.md) over pure C# ZMTP.
// No UnityEngine dependency: the same file runs in Unity (any platform, IL2CPP included) and in a
// plain Mono/.NET console program. Threading model:
//   * every public method may be called from any thread and never waits on the network: it
//     encodes the message and puts it on a bounded queue;
//   * one background thread connects (reconnecting with exponential backoff), writes the queue,
//     and two reader threads take replies (DEALER) and telemetry (SUB);
//   * replies and telemetry become callbacks that run where you call DispatchCallbacks()
//     (the Unity SoundscapeManager calls it from Update, so they run on the main thread), or at
//     once on a network thread if CallbacksOnNetworkThread is set.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace Soundscape
{
    /// <summary>A request that gets a reply (hello, trigger, batch, sync, stats, load_scene).</summary>
    public sealed class SoundscapeRequest
    {
        readonly SoundscapeClient _client;
        readonly object _lock = new object();
        Action<SoundscapeRequest> _then;

        public readonly string Type;
        public readonly long Id;
        public readonly DateTime Sent = DateTime.UtcNow;
        public bool IsDone { get; private set; }
        public bool IsOk { get; private set; }
        /// <summary>The reply map ({"type": "ok", "re": ..., "id": ..., result fields}).</summary>
        public Dictionary<string, object> Reply { get; private set; }
        /// <summary>Error code (docs/protocol.md: unknown_name, out_of_range, ..., or "timeout").</summary>
        public string ErrorCode { get; private set; }
        public string Error { get; private set; }

        internal SoundscapeRequest(SoundscapeClient client, string type, long id)
        {
            _client = client;
            Type = type;
            Id = id;
        }

        /// <summary>The instance id of a trigger reply (0 until done or on error).</summary>
        public long Instance { get { return IsOk ? SoundscapeClient.AsLong(Reply, "instance") : 0; } }

        /// <summary>Block until the reply arrives. Never call this on a game's main thread: use Then().</summary>
        public bool Wait(int timeoutMs)
        {
            lock (_lock)
            {
                if (!IsDone) Monitor.Wait(_lock, timeoutMs);
                return IsDone;
            }
        }

        /// <summary>Run `callback` when the reply arrives (dispatched like every other callback).</summary>
        public SoundscapeRequest Then(Action<SoundscapeRequest> callback)
        {
            bool now;
            lock (_lock)
            {
                now = IsDone;
                if (!now) _then += callback;
            }
            if (now) _client.Post(() => callback(this));
            return this;
        }

        internal void Complete(Dictionary<string, object> reply, string code, string error)
        {
            Action<SoundscapeRequest> then;
            lock (_lock)
            {
                if (IsDone) return;
                Reply = reply;
                ErrorCode = code;
                Error = error;
                IsOk = code == null;
                IsDone = true;
                then = _then;
                _then = null;
                Monitor.PulseAll(_lock);
            }
            if (then != null) _client.Post(() => then(this));
        }
    }

    /// <summary>A player profile (docs/accessibility.md); a field left null takes its default (each
    /// message is a complete profile). Audiograms: dB HL at 250, 500, 1000, 2000, 4000, 8000 Hz.</summary>
    public sealed class SoundscapeProfile
    {
        public string Name;
        public double[] AudiogramLeft;   // set both ears or neither
        public double[] AudiogramRight;
        public string Prescription;      // "nal-r" or "half-gain"
        public double? MaxGainDb;
        public bool Mono;
        public string DynamicRange;      // "full", "home", "headphones", "night"
        public List<KeyValuePair<string, double>> VolumeDb;  // {group: dB}: dialogue, music, effects, ambience
        public double? DialogueBoostDb;
        public List<KeyValuePair<string, double>> Preferences;  // {name: 0..1}: ambience, music, startle
    }

    /// <summary>Several commands applied by the daemon in the same audio block, atomically.</summary>
    public sealed class SoundscapeBatch
    {
        readonly SoundscapeClient _client;
        internal readonly MsgPackWriter Items = new MsgPackWriter();
        internal int Count;

        internal SoundscapeBatch(SoundscapeClient client) { _client = client; }

        MsgPackWriter Item(string type, int fields)
        {
            if (Count >= SoundscapeClient.MaxBatch) throw new InvalidOperationException("batch: at most 1024 items");
            Count++;
            Items.WriteMapHeader(1 + fields);
            Items.WriteString("type");
            Items.WriteString(type);
            return Items;
        }

        public SoundscapeBatch SetParam(string name, double value) { SoundscapeClient.WParam(Item("set_param", 2), name, value); return this; }
        public SoundscapeBatch SetState(string group, string value) { SoundscapeClient.WGroup(Item("set_state", 2), group, value, null); return this; }
        public SoundscapeBatch SetSwitch(string group, string value, string obj = null) { SoundscapeClient.WGroup(Item("set_switch", obj == null ? 2 : 3), group, value, obj); return this; }
        public SoundscapeBatch Trigger(string evt, SVec3? position = null, IList<KeyValuePair<string, double>> parameters = null, string obj = null,
                                       IList<KeyValuePair<string, string>> switches = null)
        {
            SoundscapeClient.WTrigger(Item("trigger", SoundscapeClient.NTrigger(position, parameters, obj, switches)), evt, position, parameters, obj, switches);
            return this;
        }
        public SoundscapeBatch Stop(long instance, bool release = true) { SoundscapeClient.WStop(Item("stop", 2), instance, release); return this; }
        public SoundscapeBatch Listener(SVec3 position, SVec3? forward = null, SVec3? up = null, SVec3? velocity = null)
        {
            SoundscapeClient.WListener(Item("listener", 4), position, forward, up, velocity);
            return this;
        }
        public SoundscapeBatch Object(string name, SVec3 position, SVec3? forward = null, SVec3? velocity = null)
        {
            SoundscapeClient.WObject(Item("object", 2 + (forward.HasValue ? 1 : 0) + (velocity.HasValue ? 1 : 0)), name, position, forward, velocity);
            return this;
        }
        public SoundscapeBatch Snapshot(string name, bool on) { SoundscapeClient.WSnapshot(Item("snapshot", 2), name, on); return this; }
        public SoundscapeBatch Say(string text, string preset = null, string emitter = null, SVec3? position = null)
        {
            SoundscapeClient.WSay(Item("say", SoundscapeClient.NSay(preset, emitter, position)), text, preset, emitter, position);
            return this;
        }
        public SoundscapeBatch Stinger(string name) { SoundscapeClient.WName(Item("stinger", 1), name); return this; }
        public SoundscapeBatch SetWeight(string layer, double? weight)
        {
            SoundscapeClient.WWeight(Item("set_weight", weight.HasValue ? 2 : 1), layer, weight); return this;
        }

        /// <summary>Send with a reply (per-item results: trigger instance ids) or, with
        /// wantReply false, fire-and-forget (returns null).</summary>
        public SoundscapeRequest Send(double t = SoundscapeClient.Now, bool wantReply = true)
        {
            return _client.SendBatch(this, t, wantReply);
        }
    }

    /// <summary>A sound caption or a spoken line's subtitle: telemetry topic "caption"
    /// (docs/accessibility.md). Direction is in degrees from where the listener faces: 0 ahead,
    /// positive to the right, -180..180; null with distance for a non-spatial sound.</summary>
    public sealed class SoundscapeCaption
    {
        public string Text, Importance, Speaker;
        public double? Direction, Elevation, Distance;
        public double LoudnessDb;
        public bool Synthetic, Subtitle;
        public int Count;
        public long Frame;

        /// <summary>The caption in a "caption" payload, or null if it has no text.</summary>
        public static SoundscapeCaption FromPayload(Dictionary<string, object> p)
        {
            object text;
            if (p == null || !p.TryGetValue("text", out text) || !(text is string)) return null;
            return new SoundscapeCaption
            {
                Text = (string)text,
                Importance = Get(p, "importance") as string,
                Speaker = Get(p, "speaker") as string,
                Direction = Number(Get(p, "direction")),
                Elevation = Number(Get(p, "elevation")),
                Distance = Number(Get(p, "distance")),
                LoudnessDb = Number(Get(p, "loudness_db")) ?? 0.0,
                Synthetic = Get(p, "synthetic") as bool? ?? false,
                Subtitle = Get(p, "subtitle") as bool? ?? false,
                Count = (int)(Number(Get(p, "count")) ?? 1.0),
                Frame = (long)(Number(Get(p, "frame")) ?? 0.0),
            };
        }

        static object Get(Dictionary<string, object> p, string key)
        {
            object v;
            return p.TryGetValue(key, out v) ? v : null;
        }

        static double? Number(object v)
        {
            if (v is double) return (double)v;
            if (v is long) return (long)v;
            return null;
        }
    }

    public sealed class SoundscapeClient : IDisposable
    {
        public const int ProtocolVersion = 1;
        public const int MaxBatch = 1024;
        /// <summary>"No timestamp": apply at the next audio block.</summary>
        public const double Now = double.NaN;

        readonly string _cmdHost, _pubHost;
        readonly int _cmdPort, _pubPort;
        readonly BlockingCollection<byte[]> _outbox;
        readonly ConcurrentQueue<Action> _callbacks = new ConcurrentQueue<Action>();
        readonly Dictionary<long, SoundscapeRequest> _pending = new Dictionary<long, SoundscapeRequest>();
        readonly List<string> _topics = new List<string>();
        readonly object _conn = new object();
        readonly ManualResetEvent _stopped = new ManualResetEvent(false);
        long _nextId;
        Thread _io, _cmdReader, _subReader;
        ZmtpConnection _cmd, _sub;
        int _cmdGeneration;
        volatile bool _disposed;
        List<byte[]> _unsent;

        /// <summary>Client name sent with hello.</summary>
        public string Name = "unity";
        /// <summary>Seconds a request waits for its reply before failing with "timeout".</summary>
        public double RequestTimeout = 5.0;
        /// <summary>Reconnect backoff: first delay and cap, seconds.</summary>
        public double BackoffMin = 0.1, BackoffMax = 2.0;
        /// <summary>Run callbacks on the network threads instead of queueing them for DispatchCallbacks().</summary>
        public bool CallbacksOnNetworkThread;

        /// <summary>Telemetry from the PUB socket (topic, payload), e.g. "beat", "bar", "instance_ended".</summary>
        public event Action<string, Dictionary<string, object>> Telemetry;
        /// <summary>Sound captions and spoken lines' subtitles (topic "caption": Subscribe("caption")).</summary>
        public event Action<SoundscapeCaption> Caption;
        /// <summary>Connected (true) or lost (false) the command connection.</summary>
        public event Action<bool> ConnectionChanged;
        /// <summary>A network or decoding problem (the client keeps reconnecting).</summary>
        public event Action<string> Log;

        public bool Connected { get { return _cmd != null; } }
        public int Reconnects { get; private set; }
        public long Dropped { get { return Interlocked.Read(ref _dropped); } }
        long _dropped;

        /// <summary>Endpoints as the daemon prints them: "tcp://127.0.0.1:5570"; pub may be null.</summary>
        public SoundscapeClient(string commandEndpoint = "tcp://127.0.0.1:5570", string pubEndpoint = "tcp://127.0.0.1:5571",
                                int queueCapacity = 10000)
        {
            ParseEndpoint(commandEndpoint, out _cmdHost, out _cmdPort);
            if (!string.IsNullOrEmpty(pubEndpoint)) ParseEndpoint(pubEndpoint, out _pubHost, out _pubPort);
            _outbox = new BlockingCollection<byte[]>(queueCapacity);
        }

        static void ParseEndpoint(string ep, out string host, out int port)
        {
            string s = ep.StartsWith("tcp://", StringComparison.Ordinal) ? ep.Substring(6) : ep;
            int colon = s.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(s.Substring(colon + 1), out port))
                throw new ArgumentException("endpoint " + ep + ": expected tcp://HOST:PORT");
            host = s.Substring(0, colon);
            if (host == "*" || host == "localhost") host = "127.0.0.1";
        }

        /// <summary>Subscribe to telemetry topics by prefix ("" = all). Call before or after Start().</summary>
        public void Subscribe(string topicPrefix)
        {
            ZmtpConnection sub;
            lock (_conn)
            {
                _topics.Add(topicPrefix);
                sub = _sub;
            }
            if (sub != null) SendSubscription(sub, topicPrefix);
        }

        /// <summary>Start the network thread. Returns at once; connecting happens in the background.</summary>
        public SoundscapeClient Start()
        {
            if (_io != null) return this;
            _io = new Thread(IoLoop) { IsBackground = true, Name = "soundscape-io" };
            _io.Start();
            return this;
        }

        /// <summary>Run queued callbacks (replies' Then, Telemetry, ConnectionChanged) on this thread.</summary>
        public int DispatchCallbacks(int max = 1000)
        {
            int n = 0;
            Action a;
            while (n < max && _callbacks.TryDequeue(out a))
            {
                n++;
                try { a(); }
                catch (Exception e) { Emit("callback threw: " + e); }
            }
            return n;
        }

        internal void Post(Action a)
        {
            if (CallbacksOnNetworkThread)
            {
                try { a(); } catch (Exception e) { Emit("callback threw: " + e); }
            }
            else if (_callbacks.Count < 100000) _callbacks.Enqueue(a);
        }

        void Emit(string text)
        {
            var log = Log;
            if (log != null) log(text);
        }

        // ------------------------------------------------------------------------------ messages
        [ThreadStatic] static MsgPackWriter _w;

        static MsgPackWriter Begin(string type, int fields, long id, double t)
        {
            var w = _w ?? (_w = new MsgPackWriter());
            w.Reset();
            bool timed = !double.IsNaN(t);
            w.WriteMapHeader(2 + (id > 0 ? 1 : 0) + (timed ? 1 : 0) + fields);
            w.WriteString("v");
            w.WriteInt(ProtocolVersion);
            w.WriteString("type");
            w.WriteString(type);
            if (id > 0) { w.WriteString("id"); w.WriteInt(id); }
            if (timed) { w.WriteString("t"); w.WriteDouble(t); }
            return w;
        }

        bool Enqueue(MsgPackWriter w)
        {
            if (_disposed) return false;
            if (_outbox.TryAdd(w.ToArray())) return true;
            Interlocked.Increment(ref _dropped);
            return false;
        }

        SoundscapeRequest Request(MsgPackWriter w, string type, long id)
        {
            var r = new SoundscapeRequest(this, type, id);
            lock (_pending) _pending[id] = r;
            if (!Enqueue(w))
            {
                lock (_pending) _pending.Remove(id);
                r.Complete(null, "full", type + ": send queue full (daemon unreachable for long); dropped");
            }
            return r;
        }

        long NextId() { return (Interlocked.Increment(ref _nextId) - 1) % 0xFFFFFFFFL + 1; }

        internal static void WParam(MsgPackWriter w, string name, double value)
        {
            w.WriteString("name"); w.WriteString(name); w.WriteString("value"); w.WriteDouble(value);
        }
        internal static void WGroup(MsgPackWriter w, string group, string value, string obj)
        {
            w.WriteString("group"); w.WriteString(group); w.WriteString("value"); w.WriteString(value);
            if (obj != null) { w.WriteString("object"); w.WriteString(obj); }
        }
        internal static int NTrigger(SVec3? pos, IList<KeyValuePair<string, double>> prms, string obj,
                                     IList<KeyValuePair<string, string>> switches)
        {
            return 1 + (pos.HasValue ? 1 : 0) + (prms != null && prms.Count > 0 ? 1 : 0) + (obj != null ? 1 : 0)
                   + (switches != null && switches.Count > 0 ? 1 : 0);
        }
        internal static void WTrigger(MsgPackWriter w, string evt, SVec3? pos, IList<KeyValuePair<string, double>> prms, string obj,
                                      IList<KeyValuePair<string, string>> switches)
        {
            w.WriteString("event"); w.WriteString(evt);
            if (pos.HasValue) { w.WriteString("position"); w.WriteVec3(pos.Value); }
            if (prms != null && prms.Count > 0)
            {
                w.WriteString("params");
                w.WriteMapHeader(prms.Count);
                foreach (var kv in prms) { w.WriteString(kv.Key); w.WriteDouble(kv.Value); }
            }
            if (obj != null) { w.WriteString("object"); w.WriteString(obj); }
            if (switches != null && switches.Count > 0)
            {
                w.WriteString("switches");
                w.WriteMapHeader(switches.Count);
                foreach (var kv in switches) { w.WriteString(kv.Key); w.WriteString(kv.Value); }
            }
        }
        internal static void WStop(MsgPackWriter w, long instance, bool release)
        {
            w.WriteString("instance"); w.WriteInt(instance); w.WriteString("release"); w.WriteBool(release);
        }
        internal static void WListener(MsgPackWriter w, SVec3 p, SVec3? f, SVec3? u, SVec3? v)
        {
            w.WriteString("position"); w.WriteVec3(p);
            w.WriteString("forward"); w.WriteVec3(f ?? SVec3.Forward);
            w.WriteString("up"); w.WriteVec3(u ?? SVec3.Up);
            w.WriteString("velocity"); w.WriteVec3(v ?? SVec3.Zero);
        }
        internal static void WObject(MsgPackWriter w, string name, SVec3 p, SVec3? f, SVec3? v)
        {
            w.WriteString("name"); w.WriteString(name);
            w.WriteString("position"); w.WriteVec3(p);
            if (f.HasValue) { w.WriteString("forward"); w.WriteVec3(f.Value); }
            if (v.HasValue) { w.WriteString("velocity"); w.WriteVec3(v.Value); }
        }
        internal static void WSnapshot(MsgPackWriter w, string name, bool on)
        {
            w.WriteString("name"); w.WriteString(name); w.WriteString("on"); w.WriteBool(on);
        }
        internal static int NSay(string preset, string emitter, SVec3? pos)
        {
            return 1 + (preset != null ? 1 : 0) + (emitter != null ? 1 : 0) + (pos.HasValue ? 1 : 0);
        }
        internal static void WSay(MsgPackWriter w, string text, string preset, string emitter, SVec3? pos)
        {
            w.WriteString("text"); w.WriteString(text);
            if (preset != null) { w.WriteString("preset"); w.WriteString(preset); }
            if (emitter != null) { w.WriteString("emitter"); w.WriteString(emitter); }
            if (pos.HasValue) { w.WriteString("position"); w.WriteVec3(pos.Value); }
        }
        internal static void WName(MsgPackWriter w, string name)
        {
            w.WriteString("name"); w.WriteString(name);
        }
        internal static void WWeight(MsgPackWriter w, string layer, double? weight)
        {
            w.WriteString("layer"); w.WriteString(layer);
            if (weight.HasValue) { w.WriteString("weight"); w.WriteDouble(weight.Value); }
        }

        /// <summary>hello: learn the scene (reply: protocol, scene {parameters, states, events ...}).</summary>
        public SoundscapeRequest Hello(string name = null)
        {
            long id = NextId();
            var w = Begin("hello", 1, id, Now);
            w.WriteString("name");
            w.WriteString(name ?? Name);
            return Request(w, "hello", id);
        }

        public bool SetParam(string name, double value, double t = Now)
        {
            var w = Begin("set_param", 2, 0, t); WParam(w, name, value); return Enqueue(w);
        }

        public bool SetState(string group, string value, double t = Now)
        {
            var w = Begin("set_state", 2, 0, t); WGroup(w, group, value, null); return Enqueue(w);
        }

        public bool SetSwitch(string group, string value, string obj = null, double t = Now)
        {
            var w = Begin("set_switch", obj == null ? 2 : 3, 0, t); WGroup(w, group, value, obj); return Enqueue(w);
        }

        /// <summary>Start an event instance; the reply's Instance is its id (for Stop). `switches`
        /// ({group: value}) apply to this instance only.</summary>
        public SoundscapeRequest Trigger(string evt, SVec3? position = null, IList<KeyValuePair<string, double>> parameters = null,
                                         string obj = null, double t = Now, IList<KeyValuePair<string, string>> switches = null)
        {
            long id = NextId();
            var w = Begin("trigger", NTrigger(position, parameters, obj, switches), id, t);
            WTrigger(w, evt, position, parameters, obj, switches);
            return Request(w, "trigger", id);
        }

        /// <summary>Trigger without a reply (no instance id; cheapest).</summary>
        public bool TriggerNoReply(string evt, SVec3? position = null, IList<KeyValuePair<string, double>> parameters = null,
                                   string obj = null, double t = Now, IList<KeyValuePair<string, string>> switches = null)
        {
            var w = Begin("trigger", NTrigger(position, parameters, obj, switches), 0, t);
            WTrigger(w, evt, position, parameters, obj, switches);
            return Enqueue(w);
        }

        public bool Stop(long instance, bool release = true, double t = Now)
        {
            var w = Begin("stop", 2, 0, t); WStop(w, instance, release); return Enqueue(w);
        }

        /// <summary>Move the listener (protocol axes: -Z forward, +Y up).</summary>
        public bool Listener(SVec3 position, SVec3? forward = null, SVec3? up = null, SVec3? velocity = null, double t = Now)
        {
            var w = Begin("listener", 4, 0, t); WListener(w, position, forward, up, velocity); return Enqueue(w);
        }

        /// <summary>Move a game object that emitters and instances follow.</summary>
        public bool Object(string name, SVec3 position, SVec3? forward = null, SVec3? velocity = null, double t = Now)
        {
            var w = Begin("object", 2 + (forward.HasValue ? 1 : 0) + (velocity.HasValue ? 1 : 0), 0, t);
            WObject(w, name, position, forward, velocity);
            return Enqueue(w);
        }

        public bool Snapshot(string name, bool on, double t = Now)
        {
            var w = Begin("snapshot", 2, 0, t); WSnapshot(w, name, on); return Enqueue(w);
        }

        /// <summary>Speak a synthetic character line (preset null: "neutral"), from an emitter's place or
        /// a position (2D when neither is given). Telemetry topic "say" reports it playing.</summary>
        public bool Say(string text, string preset = null, string emitter = null, SVec3? position = null, double t = Now)
        {
            var w = Begin("say", NSay(preset, emitter, position), 0, t); WSay(w, text, preset, emitter, position); return Enqueue(w);
        }

        /// <summary>Play a music stinger of the scene, quantised to its beat or bar.</summary>
        public bool Stinger(string name, double t = Now)
        {
            var w = Begin("stinger", 1, 0, t); WName(w, name); return Enqueue(w);
        }

        /// <summary>Apply a player profile: hearing compensation, mono, dynamic range, volumes, dialogue boost,
        /// preferences (inputs of the scene's director).</summary>
        public bool Profile(SoundscapeProfile p, double t = Now)
        {
            if ((p.AudiogramLeft == null) != (p.AudiogramRight == null))
                throw new ArgumentException("profile: set both AudiogramLeft and AudiogramRight, or neither");
            bool ears = p.AudiogramLeft != null, vols = p.VolumeDb != null && p.VolumeDb.Count > 0;
            bool prefs = p.Preferences != null && p.Preferences.Count > 0;
            int n = (p.Name != null ? 1 : 0) + (ears ? 1 : 0) + (p.Prescription != null ? 1 : 0)
                + (p.MaxGainDb.HasValue ? 1 : 0) + (p.Mono ? 1 : 0) + (p.DynamicRange != null ? 1 : 0)
                + (vols ? 1 : 0) + (p.DialogueBoostDb.HasValue ? 1 : 0) + (prefs ? 1 : 0);
            var w = Begin("profile", n, 0, t);
            if (p.Name != null) { w.WriteString("name"); w.WriteString(p.Name); }
            if (ears)
            {
                w.WriteString("audiogram"); w.WriteMapHeader(2);
                w.WriteString("left"); WBands(w, p.AudiogramLeft);
                w.WriteString("right"); WBands(w, p.AudiogramRight);
            }
            if (p.Prescription != null) { w.WriteString("prescription"); w.WriteString(p.Prescription); }
            if (p.MaxGainDb.HasValue) { w.WriteString("max_gain_db"); w.WriteDouble(p.MaxGainDb.Value); }
            if (p.Mono) { w.WriteString("mono"); w.WriteBool(true); }
            if (p.DynamicRange != null) { w.WriteString("dynamic_range"); w.WriteString(p.DynamicRange); }
            if (vols)
            {
                w.WriteString("volume_db"); w.WriteMapHeader(p.VolumeDb.Count);
                foreach (var kv in p.VolumeDb) { w.WriteString(kv.Key); w.WriteDouble(kv.Value); }
            }
            if (p.DialogueBoostDb.HasValue) { w.WriteString("dialogue_boost_db"); w.WriteDouble(p.DialogueBoostDb.Value); }
            if (prefs)
            {
                w.WriteString("preferences"); w.WriteMapHeader(p.Preferences.Count);
                foreach (var kv in p.Preferences) { w.WriteString(kv.Key); w.WriteDouble(kv.Value); }
            }
            return Enqueue(w);
        }
        static void WBands(MsgPackWriter w, double[] v)
        {
            w.WriteArrayHeader(v.Length);
            foreach (var x in v) w.WriteDouble(x);
        }

        /// <summary>Hold a layer's weight (0..1; layer uid "emitter.layer") over its rules and director;
        /// null hands it back. Telemetry shows the layer's source as OVERRIDE while held.</summary>
        public bool SetWeight(string layer, double? weight, double t = Now)
        {
            var w = Begin("set_weight", weight.HasValue ? 2 : 1, 0, t); WWeight(w, layer, weight); return Enqueue(w);
        }

        /// <summary>Barrier: the reply comes once everything sent before is applied by the audio process.</summary>
        public SoundscapeRequest Sync(double t = Now)
        {
            long id = NextId();
            return Request(Begin("sync", 0, id, t), "sync", id);
        }

        public SoundscapeRequest Stats()
        {
            long id = NextId();
            return Request(Begin("stats", 0, id, Now), "stats", id);
        }

        public SoundscapeRequest LoadScene(string path)
        {
            long id = NextId();
            var w = Begin("load_scene", 1, id, Now);
            w.WriteString("path");
            w.WriteString(path);
            return Request(w, "load_scene", id);
        }

        public SoundscapeBatch Batch() { return new SoundscapeBatch(this); }

        internal SoundscapeRequest SendBatch(SoundscapeBatch b, double t, bool wantReply)
        {
            if (b.Count == 0) throw new InvalidOperationException("batch: no items");
            long id = wantReply ? NextId() : 0;
            var w = Begin("batch", 1, id, t);
            w.WriteString("items");
            w.WriteArrayHeader(b.Count);
            w.WriteRaw(b.Items.Buffer, 0, b.Items.Length);
            if (wantReply) return Request(w, "batch", id);
            Enqueue(w);
            return null;
        }

        // ------------------------------------------------------------------------------ helpers
        public static long AsLong(Dictionary<string, object> map, string key)
        {
            object v;
            if (map == null || !map.TryGetValue(key, out v) || v == null) return 0;
            if (v is long) return (long)v;
            if (v is double) return (long)(double)v;
            return 0;
        }

        public static double AsDouble(Dictionary<string, object> map, string key)
        {
            object v;
            if (map == null || !map.TryGetValue(key, out v) || v == null) return 0;
            if (v is double) return (double)v;
            if (v is long) return (long)v;
            return 0;
        }

        // ------------------------------------------------------------------------------ network
        void IoLoop()
        {
            double backoff = BackoffMin;
            DateTime nextSub = DateTime.MinValue;
            var frames = new MsgPackWriter(4096);
            while (!_disposed)
            {
                if (_cmd == null)
                {
                    if (!TryConnectCommand())
                    {
                        _stopped.WaitOne(TimeSpan.FromSeconds(backoff));
                        backoff = Math.Min(BackoffMax, backoff * 2);
                        SweepTimeouts();
                        continue;
                    }
                    backoff = BackoffMin;
                }
                if (_pubPort > 0 && _sub == null && DateTime.UtcNow >= nextSub)
                {
                    if (!TryConnectSub()) nextSub = DateTime.UtcNow.AddSeconds(BackoffMax);
                }
                // Write whatever is queued (first what a lost connection left unsent), ~64 KiB per call.
                List<byte[]> batch = _unsent ?? new List<byte[]>();
                _unsent = null;
                byte[] msg;
                if (batch.Count == 0)
                {
                    if (!_outbox.TryTake(out msg, 50))
                    {
                        SweepTimeouts();
                        continue;
                    }
                    batch.Add(msg);
                }
                frames.Reset();
                foreach (var m in batch) ZmtpConnection.AppendFrame(frames, m, 0, m.Length, false);
                while (frames.Length < 65536 && _outbox.TryTake(out msg))
                {
                    batch.Add(msg);
                    ZmtpConnection.AppendFrame(frames, msg, 0, msg.Length, false);
                }
                var cmd = _cmd;
                try
                {
                    if (cmd == null) throw new System.IO.IOException("not connected");
                    cmd.Send(frames.Buffer, 0, frames.Length);
                }
                catch (Exception e)
                {
                    _unsent = batch; // goes out first after the reconnect
                    Drop(cmd, "send failed: " + e.Message);
                }
            }
        }

        bool TryConnectCommand()
        {
            ZmtpConnection c;
            try
            {
                c = ZmtpConnection.Open(_cmdHost, _cmdPort, "DEALER", 2000);
            }
            catch (Exception e)
            {
                Emit("connect " + _cmdHost + ":" + _cmdPort + ": " + e.Message);
                return false;
            }
            int gen;
            lock (_conn)
            {
                _cmd = c;
                gen = ++_cmdGeneration;
            }
            if (gen > 1) Reconnects++;
            var reader = new Thread(() => ReadCommands(c)) { IsBackground = true, Name = "soundscape-replies" };
            _cmdReader = reader;
            reader.Start();
            var changed = ConnectionChanged;
            if (changed != null) Post(() => changed(true));
            return true;
        }

        bool TryConnectSub()
        {
            ZmtpConnection s;
            try
            {
                s = ZmtpConnection.Open(_pubHost, _pubPort, "SUB", 2000);
            }
            catch (Exception e)
            {
                Emit("connect " + _pubHost + ":" + _pubPort + ": " + e.Message);
                return false;
            }
            string[] topics;
            lock (_conn)
            {
                _sub = s;
                topics = _topics.ToArray();
            }
            foreach (var t in topics) SendSubscription(s, t);
            var reader = new Thread(() => ReadTelemetry(s)) { IsBackground = true, Name = "soundscape-telemetry" };
            _subReader = reader;
            reader.Start();
            return true;
        }

        void SendSubscription(ZmtpConnection s, string prefix)
        {
            // ZMTP 3.0 subscription: a message whose first byte is 1, then the topic prefix.
            var t = System.Text.Encoding.UTF8.GetBytes(prefix);
            var body = new byte[t.Length + 1];
            body[0] = 1;
            System.Buffer.BlockCopy(t, 0, body, 1, t.Length);
            var w = new MsgPackWriter();
            ZmtpConnection.AppendFrame(w, body, 0, body.Length, false);
            try
            {
                s.Send(w.Buffer, 0, w.Length);
            }
            catch (Exception e)
            {
                DropSub(s, "subscribe failed: " + e.Message);
            }
        }

        void ReadCommands(ZmtpConnection c)
        {
            try
            {
                while (!_disposed)
                {
                    var parts = c.ReadMessage();
                    byte[] body = parts[parts.Count - 1];
                    Dictionary<string, object> reply;
                    try
                    {
                        reply = MsgPackReader.Decode(body) as Dictionary<string, object>;
                    }
                    catch (FormatException e)
                    {
                        Emit("bad reply: " + e.Message);
                        continue;
                    }
                    if (reply == null) continue;
                    long id = AsLong(reply, "id");
                    SoundscapeRequest r;
                    lock (_pending)
                    {
                        if (!_pending.TryGetValue(id, out r)) continue;
                        _pending.Remove(id);
                    }
                    object type;
                    reply.TryGetValue("type", out type);
                    if ((type as string) == "error")
                    {
                        object code, message;
                        reply.TryGetValue("code", out code);
                        reply.TryGetValue("message", out message);
                        r.Complete(reply, (code as string) ?? "error", (message as string) ?? "error");
                    }
                    else r.Complete(reply, null, null);
                }
            }
            catch (Exception e)
            {
                Drop(c, "command connection lost: " + e.Message);
            }
            finally
            {
                c.Dispose(); // the reader owns the close (see ZmtpConnection)
            }
        }

        void ReadTelemetry(ZmtpConnection s)
        {
            try
            {
                while (!_disposed)
                {
                    var parts = s.ReadMessage();
                    if (parts.Count < 2) continue;
                    string topic = System.Text.Encoding.UTF8.GetString(parts[0]);
                    Dictionary<string, object> payload;
                    try
                    {
                        payload = MsgPackReader.Decode(parts[1]) as Dictionary<string, object>;
                    }
                    catch (FormatException e)
                    {
                        Emit("bad telemetry: " + e.Message);
                        continue;
                    }
                    var handler = Telemetry;
                    if (handler != null) Post(() => handler(topic, payload));
                    var captions = Caption;
                    if (captions != null && topic == "caption")
                    {
                        var caption = SoundscapeCaption.FromPayload(payload);
                        if (caption != null) Post(() => captions(caption));
                    }
                }
            }
            catch (Exception e)
            {
                DropSub(s, "telemetry connection lost: " + e.Message);
            }
            finally
            {
                s.Dispose();
            }
        }

        void Drop(ZmtpConnection c, string why)
        {
            if (c == null) return;
            bool was;
            lock (_conn)
            {
                was = _cmd == c;
                if (was) _cmd = null;
            }
            c.Shutdown(); // wakes its reader, which closes it
            if (!was || _disposed) return;
            Emit(why);
            var changed = ConnectionChanged;
            if (changed != null) Post(() => changed(false));
        }

        void DropSub(ZmtpConnection s, string why)
        {
            lock (_conn)
            {
                if (_sub == s) _sub = null;
            }
            s.Shutdown();
            if (!_disposed) Emit(why);
        }

        void SweepTimeouts()
        {
            List<SoundscapeRequest> late = null;
            DateTime now = DateTime.UtcNow;
            lock (_pending)
            {
                foreach (var r in _pending.Values)
                    if ((now - r.Sent).TotalSeconds > RequestTimeout) (late ?? (late = new List<SoundscapeRequest>())).Add(r);
                if (late != null) foreach (var r in late) _pending.Remove(r.Id);
            }
            if (late == null) return;
            foreach (var r in late)
                r.Complete(null, "timeout", r.Type + ": no reply within " + RequestTimeout + " s (is the daemon running on " +
                                            _cmdHost + ":" + _cmdPort + "?)");
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _stopped.Set();
            if (_io != null) _io.Join(1000);
            ZmtpConnection c, s;
            lock (_conn)
            {
                c = _cmd;
                s = _sub;
                _cmd = null;
                _sub = null;
            }
            // Wake the readers and let them close their sockets before anything else does.
            if (c != null) c.Shutdown();
            if (s != null) s.Shutdown();
            foreach (var t in new[] { _cmdReader, _subReader })
                if (t != null && t != Thread.CurrentThread) t.Join(1000);
            if (c != null) c.Dispose();
            if (s != null) s.Dispose();
        }
    }
}
