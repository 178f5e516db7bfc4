// Sends this transform (usually the camera or the VR head) as the listener, at most `maxRate`
// times a second and only when it moved or turned (plus a keep-alive once a second).
using UnityEngine;

namespace Soundscape
{
    [DisallowMultipleComponent]
    [AddComponentMenu("Soundscape/Soundscape Listener")]
    public sealed class SoundscapeListener : MonoBehaviour
    {
        [Tooltip("Updates per second at most (the daemon smooths between them)")]
        [Range(1, 240)] [SerializeField] float maxRate = 60f;
        [Tooltip("Send Doppler velocity (from the position change between updates)")]
        [SerializeField] bool sendVelocity = true;

        Vector3 _lastPos, _lastFwd, _lastUp;
        float _lastSent = -1f;

        void LateUpdate()
        {
            var m = SoundscapeManager.Instance;
            if (m == null || m.Client == null) return;
            float now = Time.unscaledTime;
            if (_lastSent >= 0f && now - _lastSent < 1f / maxRate) return;
            Transform t = transform;
            Vector3 pos = t.position, fwd = t.forward, up = t.up;
            bool moved = (pos - _lastPos).sqrMagnitude > 1e-8f || (fwd - _lastFwd).sqrMagnitude > 1e-8f ||
                         (up - _lastUp).sqrMagnitude > 1e-8f;
            if (!moved && now - _lastSent < 1f) return;
            Vector3 vel = Vector3.zero;
            if (sendVelocity && _lastSent >= 0f && now > _lastSent) vel = (pos - _lastPos) / (now - _lastSent);
            m.Client.Listener(SoundscapeManager.ToProtocol(pos), SoundscapeManager.ToProtocol(fwd),
                              SoundscapeManager.ToProtocol(up), SoundscapeManager.ToProtocol(vel));
            _lastPos = pos;
            _lastFwd = fwd;
            _lastUp = up;
            _lastSent = now;
        }
    }
}
