// A game object the daemon knows by name: its transform is sent (rate-limited) so emitters and
// event instances attached to it follow; Play() starts events on it and Stop() ends them.
using System;
using System.Collections.Generic;
using UnityEngine;

namespace Soundscape
{
    [AddComponentMenu("Soundscape/Soundscape Emitter")]
    public sealed class SoundscapeEmitter : MonoBehaviour
    {
        [Tooltip("Object name in the daemon (empty: the GameObject's name)")]
        [SerializeField] string objectName = "";
        [Tooltip("Event to trigger when enabled (empty: none)")]
        [SerializeField] string playOnEnable = "";
        [SerializeField] bool stopOnDisable = true;
        [Range(1, 240)] [SerializeField] float maxRate = 30f;

        readonly List<long> _playing = new List<long>();
        Vector3 _lastPos, _lastFwd;
        float _lastSent = -1f;

        public string ObjectName { get { return string.IsNullOrEmpty(objectName) ? gameObject.name : objectName; } }
        /// <summary>Instances this emitter started that have not been stopped.</summary>
        public IList<long> Playing { get { return _playing; } }

        void OnEnable()
        {
            if (!string.IsNullOrEmpty(playOnEnable)) Play(playOnEnable);
        }

        void OnDisable()
        {
            if (stopOnDisable) StopAll(true);
        }

        /// <summary>Trigger `eventName` attached to this object; `done` gets the instance id on the main thread.</summary>
        public SoundscapeRequest Play(string eventName, IList<KeyValuePair<string, double>> parameters = null, Action<long> done = null)
        {
            var m = SoundscapeManager.Instance;
            if (m == null || m.Client == null) return null;
            SendTransform(true);
            return m.Client.Trigger(eventName, SoundscapeManager.ToProtocol(transform.position), parameters, ObjectName).Then(r =>
            {
                if (!r.IsOk)
                {
                    Debug.LogWarning("Soundscape: " + eventName + ": " + r.Error);
                    return;
                }
                _playing.Add(r.Instance);
                if (done != null) done(r.Instance);
            });
        }

        public void Stop(long instance, bool release = true)
        {
            var m = SoundscapeManager.Instance;
            if (m != null && m.Client != null) m.Client.Stop(instance, release);
            _playing.Remove(instance);
        }

        public void StopAll(bool release = true)
        {
            var m = SoundscapeManager.Instance;
            if (m != null && m.Client != null) foreach (var id in _playing) m.Client.Stop(id, release);
            _playing.Clear();
        }

        public void SetSwitch(string group, string value)
        {
            var m = SoundscapeManager.Instance;
            if (m != null && m.Client != null) m.Client.SetSwitch(group, value, ObjectName);
        }

        void LateUpdate() { SendTransform(false); }

        void SendTransform(bool force)
        {
            var m = SoundscapeManager.Instance;
            if (m == null || m.Client == null) return;
            float now = Time.unscaledTime;
            if (!force && _lastSent >= 0f && now - _lastSent < 1f / maxRate) return;
            Transform t = transform;
            Vector3 pos = t.position, fwd = t.forward;
            bool moved = (pos - _lastPos).sqrMagnitude > 1e-8f || (fwd - _lastFwd).sqrMagnitude > 1e-8f;
            if (!force && !moved && now - _lastSent < 1f) return;
            Vector3 vel = _lastSent >= 0f && now > _lastSent ? (pos - _lastPos) / (now - _lastSent) : Vector3.zero;
            m.Client.Object(ObjectName, SoundscapeManager.ToProtocol(pos), SoundscapeManager.ToProtocol(fwd),
                            SoundscapeManager.ToProtocol(vel));
            _lastPos = pos;
            _lastFwd = fwd;
            _lastSent = now;
        }
    }
}
