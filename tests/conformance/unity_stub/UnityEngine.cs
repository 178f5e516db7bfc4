// A minimal stand-in for the UnityEngine types the Soundscape package and its sample use, so
// they compile (and the components can be exercised) with mono's mcs outside Unity. Only
// signatures matter; behaviour is the least that a console test needs.
using System;

namespace UnityEngine
{
    public class Object
    {
        public string name = "";
        static int _ids;
        readonly int _id = ++_ids;
        public int GetInstanceID() { return _id; }
        public static void DontDestroyOnLoad(Object target) { }
        public static implicit operator bool(Object o) { return !ReferenceEquals(o, null); }
    }

    public class GameObject : Object
    {
        public Transform transform = new Transform();
        public GameObject(string n = "GameObject") { name = n; transform.gameObject = this; }
        public T AddComponent<T>() where T : Component, new()
        {
            var c = new T();
            c.gameObject = this;
            c.name = name;
            return c;
        }
    }

    public class Component : Object
    {
        public GameObject gameObject;
        public Transform transform { get { return gameObject.transform; } }
    }

    public class Transform : Component
    {
        public Vector3 position;
        public Vector3 forward = new Vector3(0, 0, 1);
        public Vector3 up = new Vector3(0, 1, 0);
    }

    public class Behaviour : Component
    {
        public bool enabled = true;
    }

    public class MonoBehaviour : Behaviour { }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
        public static Vector3 zero { get { return new Vector3(0, 0, 0); } }
        public float sqrMagnitude { get { return x * x + y * y + z * z; } }
        public static Vector3 operator -(Vector3 a, Vector3 b) { return new Vector3(a.x - b.x, a.y - b.y, a.z - b.z); }
        public static Vector3 operator /(Vector3 a, float d) { return new Vector3(a.x / d, a.y / d, a.z / d); }
    }

    public static class Time
    {
        public static float unscaledTime;
        public static float deltaTime = 1f / 60f;
        public static int frameCount;
    }

    public static class Mathf
    {
        public static float Clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }
        public static int Max(int a, int b) { return Math.Max(a, b); }
    }

    public static class Screen { public static int width = 1920; }

    public enum KeyCode { None, Space }

    public static class Input
    {
        public static Vector3 mousePosition;
        public static bool GetKeyDown(KeyCode k) { return false; }
    }

    public static class Debug
    {
        public static void Log(object m) { Console.WriteLine(m); }
        public static void LogWarning(object m) { Console.Error.WriteLine("warning: " + m); }
        public static void LogError(object m) { Console.Error.WriteLine("error: " + m); }
    }

    [AttributeUsage(AttributeTargets.Field)] public sealed class SerializeField : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string t) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class HeaderAttribute : Attribute { public HeaderAttribute(string t) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class RangeAttribute : Attribute { public RangeAttribute(float a, float b) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DisallowMultipleComponent : Attribute { }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string m) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DefaultExecutionOrder : Attribute { public DefaultExecutionOrder(int o) { } }
}
