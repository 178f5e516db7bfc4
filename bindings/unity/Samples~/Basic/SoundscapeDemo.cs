// Basic sample: put a SoundscapeManager in the scene, a SoundscapeListener on the camera and a
// SoundscapeEmitter on a moving object, then this script anywhere. Space triggers `eventName` on
// the emitter, the mouse X sets `parameter`, and beat/bar callbacks are logged (main thread).
using UnityEngine;

namespace Soundscape.Samples
{
    public sealed class SoundscapeDemo : MonoBehaviour
    {
        [SerializeField] SoundscapeEmitter emitter = null;
        [SerializeField] string eventName = "ping";
        [SerializeField] string parameter = "intensity";

        void Start()
        {
            var m = SoundscapeManager.Instance;
            m.Beat += (beat, bar) => Debug.Log("beat " + beat + " of bar " + bar);
            m.Bar += bar => Debug.Log("bar " + bar);
            m.SceneChanged += scene => Debug.Log("soundscape scene: " + scene["name"]);
            m.ConnectionChanged += up => Debug.Log(up ? "soundscape connected" : "soundscape lost; reconnecting");
        }

        void Update()
        {
            var m = SoundscapeManager.Instance;
            if (m == null || m.Client == null) return;
            if (Input.GetKeyDown(KeyCode.Space) && emitter != null)
                emitter.Play(eventName, null, id => Debug.Log(eventName + " started as instance " + id));
            if (Time.frameCount % 6 == 0) // 10 updates a second is plenty for a parameter
                m.Client.SetParam(parameter, Mathf.Clamp01(Input.mousePosition.x / Mathf.Max(1, Screen.width)));
        }
    }
}
