/*
 * soundscape.h - a small C client for the soundscape daemon (protocol v1, see docs/protocol.md).
 *
 * Over libzmq (DEALER for commands, SUB for telemetry) with its own tiny msgpack writer/reader, so
 * the only dependency is libzmq. Written for native engines (Unreal, custom engines): C99, no
 * global state, no allocation on the fire-and-forget path after the first few messages.
 *
 * Threading: an ss_client or ss_subscriber belongs to ONE thread at a time (ZeroMQ sockets are not
 * thread-safe). Create one per thread that talks to the daemon, or funnel calls through one thread.
 * Fire-and-forget calls never wait; calls that return a result (hello, trigger, batch with results,
 * sync, stats, load_scene) wait for the reply at most the client's timeout.
 *
 * Times: every command takes `t`, the game time in seconds at which it must apply (sample
 * accurate); pass SS_NOW to apply at the next audio block.
 *
 *     ss_client *c = ss_connect("tcp://127.0.0.1:5570", 2000);
 *     ss_hello_info info;
 *     if (ss_hello(c, "my-game", &info) != SS_OK) { puts(ss_last_error(c)); return 1; }
 *     ss_set_state(c, "weather", "storm", SS_NOW);
 *     double pos[3] = {2.0, 0.0, -3.5};
 *     long long door = ss_trigger(c, "door_open", pos, NULL, 0, NULL, SS_NOW);
 *     ss_stop(c, door, 1, SS_NOW);
 *     ss_close(c);
 */
#ifndef SOUNDSCAPE_H
#define SOUNDSCAPE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_PROTOCOL_VERSION 1

/* "No timestamp": apply at the next audio block. Any NaN works; this is the one to write. */
#define SS_NOW ((double)NAN)

/* Return codes (negative: failure; ss_last_error() says why). */
#define SS_OK 0
#define SS_ERR_TIMEOUT (-1)  /* no reply within the timeout: daemon not running, or busy */
#define SS_ERR_DAEMON (-2)   /* the daemon answered with an error reply (ss_last_error_code) */
#define SS_ERR_ZMQ (-3)      /* libzmq failed (bad endpoint, context terminated, ...) */
#define SS_ERR_ARG (-4)      /* a bad argument (NULL where a value is needed, too many items) */
#define SS_ERR_VERSION (-5)  /* the daemon speaks another protocol version */
#define SS_ERR_FULL (-6)     /* the send queue is full (daemon gone for long): message dropped */

typedef struct ss_client ss_client;
typedef struct ss_subscriber ss_subscriber;
typedef struct ss_batch ss_batch;

/* One instance parameter of a trigger: {name: value}. */
typedef struct {
    const char *name;
    double value;
} ss_param;

/* One switch value of a trigger, for that instance only: {group: value}. */
typedef struct {
    const char *group;
    const char *value;
} ss_switch;

/* Everything optional about a trigger: zero-initialise (`ss_trigger_opts o = {0};`), set what you
 * need. Pointers are only read during the call. */
typedef struct {
    const double *position;    /* world position, double[3]; NULL: none */
    const ss_param *params;    /* n_params instance parameters */
    int n_params;
    const char *object;        /* game object the instance follows; NULL: none */
    const ss_switch *switches; /* n_switches switch values for this instance only */
    int n_switches;
} ss_trigger_opts;

/* A player profile (docs/accessibility.md): zero-initialise (`ss_profile_opts p = {0};`), set what
 * you need; a field left unset takes its default (each message is a complete profile). */
#define SS_AUDIOGRAM_BANDS 6 /* dB HL at 250, 500, 1000, 2000, 4000, 8000 Hz */
typedef struct {
    const char *name;              /* a label; NULL: default */
    const double *audiogram_left;  /* SS_AUDIOGRAM_BANDS values; set both ears or neither */
    const double *audiogram_right;
    const char *prescription;      /* "nal-r" or "half-gain"; NULL: default */
    int has_max_gain_db;           /* nonzero: send max_gain_db */
    double max_gain_db;
    int mono;                      /* nonzero: fold the mix to mono */
    const char *dynamic_range;     /* "full", "home", "headphones", "night"; NULL: default */
    const ss_param *volume_db;     /* n_volume_db {group: dB}: dialogue, music, effects, ambience */
    int n_volume_db;
    int has_dialogue_boost_db;     /* nonzero: send dialogue_boost_db */
    double dialogue_boost_db;
    const ss_param *preferences;   /* n_preferences {name: 0..1}: ambience, music, startle (0.5 = as designed) */
    int n_preferences;
} ss_profile_opts;

/* ---------------------------------------------------------------------------- decoded values */
/* A decoded msgpack value (replies and telemetry). Owned by the client/subscriber: valid until
 * the next call on the same object. */
typedef enum {
    SS_NIL, SS_BOOL, SS_INT, SS_FLOAT, SS_STR, SS_BIN, SS_ARRAY, SS_MAP
} ss_type;

typedef struct ss_value ss_value;
struct ss_value {
    ss_type type;
    uint32_t len;      /* bytes for STR/BIN, items for ARRAY, pairs for MAP */
    union {
        int b;
        int64_t i;     /* uint64 above INT64_MAX is clamped (the protocol never sends one) */
        double f;
        const char *s; /* STR: NUL-terminated UTF-8 (len excludes the NUL); BIN: raw bytes */
        ss_value *items; /* ARRAY: len items; MAP: 2*len items, key then value */
    } u;
};

/* Map lookup by string key (NULL if absent or not a map). */
const ss_value *ss_get(const ss_value *map, const char *key);
/* Numbers as double / int64 (0 when the value is absent or not a number). */
double ss_as_double(const ss_value *v);
int64_t ss_as_int(const ss_value *v);
/* String value or NULL. */
const char *ss_as_str(const ss_value *v);

/* ------------------------------------------------------------------------------------ client */
/* Connect a DEALER to the daemon's command endpoint (e.g. "tcp://127.0.0.1:5570"). Returns NULL
 * only on a bad endpoint or out of memory: connecting is asynchronous, libzmq reconnects by itself
 * (100 ms, backing off to 2 s) and messages sent meanwhile are queued. `timeout_ms` bounds each
 * call that waits for a reply. */
ss_client *ss_connect(const char *endpoint, int timeout_ms);
void ss_close(ss_client *c);
void ss_set_timeout(ss_client *c, int timeout_ms);
/* The last failure: a one-line message, and the daemon's error code (e.g. "unknown_name") or "". */
const char *ss_last_error(const ss_client *c);
const char *ss_last_error_code(const ss_client *c);

typedef struct {
    int protocol;           /* SS_PROTOCOL_VERSION */
    int sample_rate;
    int block;
    const char *scene;      /* scene name (valid until the next call on the client) */
    const ss_value *reply;  /* the whole reply map: scene parameters, states, events ... */
} ss_hello_info;

/* hello: introduce the client (name may be NULL) and learn the scene. Fails with SS_ERR_VERSION
 * when the daemon speaks another protocol version. Waits for the reply. */
int ss_hello(ss_client *c, const char *name, ss_hello_info *out);

/* Fire-and-forget commands: they never wait (errors appear on the telemetry topic "error"). */
int ss_set_param(ss_client *c, const char *name, double value, double t);
int ss_set_state(ss_client *c, const char *group, const char *value, double t);
int ss_set_switch(ss_client *c, const char *group, const char *value, const char *object, double t);
int ss_stop(ss_client *c, long long instance, int release, double t);
int ss_listener(ss_client *c, const double position[3], const double forward[3], const double up[3],
                const double velocity[3], double t); /* forward/up/velocity may be NULL: defaults */
int ss_object(ss_client *c, const char *name, const double position[3], const double forward[3],
              const double velocity[3], double t);   /* forward/velocity may be NULL: omitted */
int ss_snapshot(ss_client *c, const char *name, int on, double t);
/* say: speak a synthetic character line. preset (NULL: "neutral"), emitter (whose place it comes
 * from) and position (double[3]) may be NULL; with neither, the line is 2D. */
int ss_say(ss_client *c, const char *text, const char *preset, const char *emitter, const double position[3],
           double t);
/* stinger: play a music stinger of the scene, quantised to its beat or bar. */
int ss_stinger(ss_client *c, const char *name, double t);
/* set_weight: hold a layer's weight (0..1, layer uid "emitter.layer") over its rules and director;
 * SS_RELEASE (any negative weight) hands it back. */
#define SS_RELEASE (-1.0)
int ss_set_weight(ss_client *c, const char *layer, double weight, double t);
/* profile: apply a player profile (hearing compensation, mono, dynamic range, volumes). */
int ss_profile(ss_client *c, const ss_profile_opts *p, double t);

/* trigger: start an event instance; waits for the reply and returns the instance id (>= 1), or a
 * negative SS_ERR_*. position, params and object may be NULL. */
long long ss_trigger(ss_client *c, const char *event, const double position[3], const ss_param *params,
                     int n_params, const char *object, double t);
/* trigger without waiting (no instance id). */
int ss_trigger_nowait(ss_client *c, const char *event, const double position[3], const ss_param *params,
                      int n_params, const char *object, double t);
/* The same with every option of the message, per-instance switches included (opts may be NULL). */
long long ss_trigger_ex(ss_client *c, const char *event, const ss_trigger_opts *opts, double t);
int ss_trigger_ex_nowait(ss_client *c, const char *event, const ss_trigger_opts *opts, double t);

/* sync: a barrier. Returns once everything sent before is applied by the audio process; `frame`
 * (may be NULL) receives the engine frame. With a `t`, re-anchors this client's game clock. */
int ss_sync(ss_client *c, double t, long long *frame);

/* Requests whose reply is a map: the reply (valid until the next call), or NULL (see last_error). */
/* stats: the daemon's live counters, under the reply's "stats". */
const ss_value *ss_stats(ss_client *c);
/* load_scene: replace the scene with another file of the daemon's scene folder; the reply's "scene"
 * describes the new one. Waits until it is loaded (at least 10 s, or the client's timeout if longer);
 * on failure (ss_last_error_code "scene_error") the old scene keeps playing. */
const ss_value *ss_load_scene(ss_client *c, const char *path);

/* ------------------------------------------------------------------------------------- batch */
/* Several commands applied in the same audio block, atomically. Build, then send. */
ss_batch *ss_batch_begin(ss_client *c);
int ss_batch_set_param(ss_batch *b, const char *name, double value);
int ss_batch_set_state(ss_batch *b, const char *group, const char *value);
int ss_batch_set_switch(ss_batch *b, const char *group, const char *value, const char *object);
int ss_batch_trigger(ss_batch *b, const char *event, const double position[3], const ss_param *params,
                     int n_params, const char *object);
int ss_batch_stop(ss_batch *b, long long instance, int release);
int ss_batch_listener(ss_batch *b, const double position[3], const double forward[3], const double up[3],
                      const double velocity[3]);
int ss_batch_object(ss_batch *b, const char *name, const double position[3], const double forward[3],
                    const double velocity[3]);
int ss_batch_snapshot(ss_batch *b, const char *name, int on);
int ss_batch_trigger_ex(ss_batch *b, const char *event, const ss_trigger_opts *opts);
int ss_batch_say(ss_batch *b, const char *text, const char *preset, const char *emitter,
                 const double position[3]);
int ss_batch_stinger(ss_batch *b, const char *name);
int ss_batch_set_weight(ss_batch *b, const char *layer, double weight);
/* Send and free the batch. With `instances` non-NULL, waits for the reply and writes one entry per
 * item (the instance id for triggers, 0 otherwise; at most max_items); otherwise fire-and-forget. */
int ss_batch_send(ss_batch *b, double t, long long *instances, int max_items);
/* Drop an unsent batch. */
void ss_batch_free(ss_batch *b);

/* ----------------------------------------------------------------------------------- telemetry */
/* A SUB socket on the daemon's telemetry endpoint (e.g. "tcp://127.0.0.1:5571"), subscribed to
 * the given topic prefixes ("" = all; e.g. "beat", "bar", "instance_", "error"). */
ss_subscriber *ss_subscribe(const char *endpoint, const char *const *topics, int n_topics);
typedef void (*ss_callback)(const char *topic, const ss_value *payload, void *user);
/* Wait up to timeout_ms for telemetry, then deliver every message already received to `cb` (on
 * the calling thread). Returns the number delivered (0 on timeout), or a negative SS_ERR_*. */
int ss_poll(ss_subscriber *s, int timeout_ms, ss_callback cb, void *user);
void ss_subscriber_close(ss_subscriber *s);

/* A sound caption or a spoken line's subtitle: the payload of telemetry topic "caption" (subscribe
 * to "caption"; docs/accessibility.md says when they come). Strings point into the payload. */
typedef struct {
    const char *text;       /* what to show, UTF-8 */
    const char *importance; /* "low", "normal", "high" or "critical" */
    const char *speaker;    /* a spoken line's speaker (emitter or voice preset); NULL for sounds */
    int spatial;            /* 1: direction, elevation and distance hold; 0: a non-spatial sound */
    double direction;       /* degrees from where the listener faces: 0 ahead, + right, -180..180 */
    double elevation;       /* degrees, + up */
    double distance;        /* metres */
    double loudness_db;     /* sounds: the voice's gain in dB (distance included) */
    int synthetic;          /* 1: synthetic speech */
    int subtitle;           /* 1: a spoken line */
    int count;              /* sounds merged into this caption (the same one repeating) */
    int64_t frame;          /* engine frame of the sound's first sample */
} ss_caption;
/* Read a "caption" payload into `out` (valid as long as `payload`). SS_OK, or SS_ERR_ARG when it
 * is not a caption (no text). */
int ss_caption_read(const ss_value *payload, ss_caption *out);

#ifdef __cplusplus
}
#endif
#endif /* SOUNDSCAPE_H */
