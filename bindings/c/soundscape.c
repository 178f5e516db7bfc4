/*
 * soundscape.c - C client for the soundscape daemon: libzmq + a tiny msgpack writer/reader.
 * See soundscape.h for the API and threading rules, docs/protocol.md for the messages.
 */
#include "soundscape.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* ------------------------------------------------------------------------------ msgpack writer */
typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom;
} mp_buf;

static void mp_reserve(mp_buf *b, size_t extra) {
    if (b->oom || b->n + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) cap *= 2;
    unsigned char *p = (unsigned char *)realloc(b->p, cap);
    if (!p) { b->oom = 1; return; }
    b->p = p;
    b->cap = cap;
}

static void mp_raw(mp_buf *b, const void *src, size_t n) {
    mp_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void mp_byte(mp_buf *b, unsigned char x) { mp_raw(b, &x, 1); }

static void mp_be(mp_buf *b, uint64_t x, int bytes) {
    unsigned char t[8];
    for (int i = 0; i < bytes; i++) t[i] = (unsigned char)(x >> (8 * (bytes - 1 - i)));
    mp_raw(b, t, (size_t)bytes);
}

static void mp_bool(mp_buf *b, int v) { mp_byte(b, v ? 0xc3 : 0xc2); }

/* Smallest encoding, as msgpack-python does (so every client sends the same bytes). */
static void mp_int(mp_buf *b, int64_t v) {
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u < 128) mp_byte(b, (unsigned char)u);
        else if (u < 256) { mp_byte(b, 0xcc); mp_be(b, u, 1); }
        else if (u < 65536) { mp_byte(b, 0xcd); mp_be(b, u, 2); }
        else if (u < 4294967296ULL) { mp_byte(b, 0xce); mp_be(b, u, 4); }
        else { mp_byte(b, 0xcf); mp_be(b, u, 8); }
    } else {
        if (v >= -32) mp_byte(b, (unsigned char)(0xe0 | (v + 32)));
        else if (v >= -128) { mp_byte(b, 0xd0); mp_be(b, (uint64_t)v, 1); }
        else if (v >= -32768) { mp_byte(b, 0xd1); mp_be(b, (uint64_t)v, 2); }
        else if (v >= -2147483648LL) { mp_byte(b, 0xd2); mp_be(b, (uint64_t)v, 4); }
        else { mp_byte(b, 0xd3); mp_be(b, (uint64_t)v, 8); }
    }
}

static void mp_f64(mp_buf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    mp_byte(b, 0xcb);
    mp_be(b, u, 8);
}

static void mp_str(mp_buf *b, const char *s) {
    size_t n = strlen(s);
    if (n < 32) mp_byte(b, (unsigned char)(0xa0 | n));
    else if (n < 256) { mp_byte(b, 0xd9); mp_be(b, n, 1); }
    else if (n < 65536) { mp_byte(b, 0xda); mp_be(b, n, 2); }
    else { mp_byte(b, 0xdb); mp_be(b, n, 4); }
    mp_raw(b, s, n);
}

static void mp_map(mp_buf *b, uint32_t n) {
    if (n < 16) mp_byte(b, (unsigned char)(0x80 | n));
    else if (n < 65536) { mp_byte(b, 0xde); mp_be(b, n, 2); }
    else { mp_byte(b, 0xdf); mp_be(b, n, 4); }
}

static void mp_array(mp_buf *b, uint32_t n) {
    if (n < 16) mp_byte(b, (unsigned char)(0x90 | n));
    else if (n < 65536) { mp_byte(b, 0xdc); mp_be(b, n, 2); }
    else { mp_byte(b, 0xdd); mp_be(b, n, 4); }
}

static void mp_vec3(mp_buf *b, const double *v) {
    mp_array(b, 3);
    for (int i = 0; i < 3; i++) mp_f64(b, v[i]);
}

/* ------------------------------------------------------------------------------ msgpack reader */
/* Decoded values live in an arena that is reset before each decode. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    unsigned char data[];
} arena_block;

typedef struct {
    arena_block *head;
} arena;

static void *arena_alloc(arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->used + n > a->head->cap) {
        size_t cap = n > 16384 ? n : 16384;
        arena_block *blk = (arena_block *)malloc(sizeof(arena_block) + cap);
        if (!blk) return NULL;
        blk->next = a->head;
        blk->used = 0;
        blk->cap = cap;
        a->head = blk;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static void arena_reset(arena *a) {
    /* keep the newest block, free the rest */
    if (!a->head) return;
    arena_block *keep = a->head, *b = keep->next;
    while (b) { arena_block *n = b->next; free(b); b = n; }
    keep->next = NULL;
    keep->used = 0;
}

static void arena_free(arena *a) {
    arena_block *b = a->head;
    while (b) { arena_block *n = b->next; free(b); b = n; }
    a->head = NULL;
}

typedef struct {
    const unsigned char *p, *end;
    arena *a;
    int depth;
} mp_reader;

static int rd_be(mp_reader *r, int bytes, uint64_t *out) {
    if (r->end - r->p < bytes) return -1;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++) x = (x << 8) | r->p[i];
    r->p += bytes;
    *out = x;
    return 0;
}

static int rd_value(mp_reader *r, ss_value *v);

static int rd_bytes(mp_reader *r, ss_value *v, ss_type type, uint64_t n) {
    if ((uint64_t)(r->end - r->p) < n) return -1;
    char *s = (char *)arena_alloc(r->a, (size_t)n + 1);
    if (!s) return -1;
    memcpy(s, r->p, (size_t)n);
    s[n] = 0;
    r->p += n;
    v->type = type;
    v->len = (uint32_t)n;
    v->u.s = s;
    return 0;
}

static int rd_container(mp_reader *r, ss_value *v, ss_type type, uint64_t n) {
    uint64_t count = type == SS_MAP ? 2 * n : n;
    if (count > (uint64_t)(r->end - r->p)) return -1; /* each item takes >= 1 byte */
    if (++r->depth > 64) return -1;
    ss_value *items = (ss_value *)arena_alloc(r->a, (size_t)(count ? count : 1) * sizeof(ss_value));
    if (!items) return -1;
    for (uint64_t i = 0; i < count; i++)
        if (rd_value(r, &items[i]) < 0) return -1;
    r->depth--;
    v->type = type;
    v->len = (uint32_t)n;
    v->u.items = items;
    return 0;
}

static int rd_value(mp_reader *r, ss_value *v) {
    uint64_t x;
    if (r->p >= r->end) return -1;
    unsigned char c = *r->p++;
    memset(v, 0, sizeof *v);
    if (c <= 0x7f) { v->type = SS_INT; v->u.i = c; return 0; }
    if (c >= 0xe0) { v->type = SS_INT; v->u.i = (int8_t)c; return 0; }
    if ((c & 0xf0) == 0x80) return rd_container(r, v, SS_MAP, c & 0x0f);
    if ((c & 0xf0) == 0x90) return rd_container(r, v, SS_ARRAY, c & 0x0f);
    if ((c & 0xe0) == 0xa0) return rd_bytes(r, v, SS_STR, c & 0x1f);
    switch (c) {
    case 0xc0: v->type = SS_NIL; return 0;
    case 0xc2: v->type = SS_BOOL; v->u.b = 0; return 0;
    case 0xc3: v->type = SS_BOOL; v->u.b = 1; return 0;
    case 0xc4: case 0xc5: case 0xc6:
        if (rd_be(r, 1 << (c - 0xc4), &x)) return -1;
        return rd_bytes(r, v, SS_BIN, x);
    case 0xca: {
        if (rd_be(r, 4, &x)) return -1;
        uint32_t u = (uint32_t)x; float f; memcpy(&f, &u, 4);
        v->type = SS_FLOAT; v->u.f = f; return 0;
    }
    case 0xcb: {
        if (rd_be(r, 8, &x)) return -1;
        double d; memcpy(&d, &x, 8);
        v->type = SS_FLOAT; v->u.f = d; return 0;
    }
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        if (rd_be(r, 1 << (c - 0xcc), &x)) return -1;
        v->type = SS_INT; v->u.i = x > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)x; return 0;
    case 0xd0: if (rd_be(r, 1, &x)) return -1; v->type = SS_INT; v->u.i = (int8_t)x; return 0;
    case 0xd1: if (rd_be(r, 2, &x)) return -1; v->type = SS_INT; v->u.i = (int16_t)x; return 0;
    case 0xd2: if (rd_be(r, 4, &x)) return -1; v->type = SS_INT; v->u.i = (int32_t)x; return 0;
    case 0xd3: if (rd_be(r, 8, &x)) return -1; v->type = SS_INT; v->u.i = (int64_t)x; return 0;
    case 0xd9: case 0xda: case 0xdb:
        if (rd_be(r, 1 << (c - 0xd9), &x)) return -1;
        return rd_bytes(r, v, SS_STR, x);
    case 0xdc: case 0xdd:
        if (rd_be(r, c == 0xdc ? 2 : 4, &x)) return -1;
        return rd_container(r, v, SS_ARRAY, x);
    case 0xde: case 0xdf:
        if (rd_be(r, c == 0xde ? 2 : 4, &x)) return -1;
        return rd_container(r, v, SS_MAP, x);
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: { /* fixext: skipped as nil */
        size_t n = (size_t)1 << (c - 0xd4);
        if ((size_t)(r->end - r->p) < n + 1) return -1;
        r->p += n + 1; v->type = SS_NIL; return 0;
    }
    case 0xc7: case 0xc8: case 0xc9: /* ext: skipped as nil */
        if (rd_be(r, 1 << (c - 0xc7), &x)) return -1;
        if ((uint64_t)(r->end - r->p) < x + 1) return -1;
        r->p += x + 1; v->type = SS_NIL; return 0;
    default: return -1; /* 0xc1 never used */
    }
}

static const ss_value *decode(arena *a, ss_value *root, const void *data, size_t n) {
    arena_reset(a);
    mp_reader r = {(const unsigned char *)data, (const unsigned char *)data + n, a, 0};
    if (rd_value(&r, root) < 0 || r.p != r.end) return NULL;
    return root;
}

const ss_value *ss_get(const ss_value *map, const char *key) {
    if (!map || map->type != SS_MAP) return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->len; i++) {
        const ss_value *k = &map->u.items[2 * i];
        if (k->type == SS_STR && k->len == klen && memcmp(k->u.s, key, klen) == 0)
            return &map->u.items[2 * i + 1];
    }
    return NULL;
}

double ss_as_double(const ss_value *v) {
    if (!v) return 0.0;
    if (v->type == SS_FLOAT) return v->u.f;
    if (v->type == SS_INT) return (double)v->u.i;
    return 0.0;
}

int64_t ss_as_int(const ss_value *v) {
    if (!v) return 0;
    if (v->type == SS_INT) return v->u.i;
    if (v->type == SS_FLOAT) return (int64_t)v->u.f;
    return 0;
}

const char *ss_as_str(const ss_value *v) { return v && v->type == SS_STR ? v->u.s : NULL; }

static int as_flag(const ss_value *v) { return v && v->type == SS_BOOL ? v->u.b != 0 : 0; }

int ss_caption_read(const ss_value *payload, ss_caption *out) {
    if (!out) return SS_ERR_ARG;
    memset(out, 0, sizeof *out);
    out->text = ss_as_str(ss_get(payload, "text"));
    if (!out->text) return SS_ERR_ARG;
    out->importance = ss_as_str(ss_get(payload, "importance"));
    out->speaker = ss_as_str(ss_get(payload, "speaker"));
    const ss_value *dir = ss_get(payload, "direction");
    out->spatial = dir && (dir->type == SS_FLOAT || dir->type == SS_INT);
    out->direction = ss_as_double(dir);
    out->elevation = ss_as_double(ss_get(payload, "elevation"));
    out->distance = ss_as_double(ss_get(payload, "distance"));
    out->loudness_db = ss_as_double(ss_get(payload, "loudness_db"));
    out->synthetic = as_flag(ss_get(payload, "synthetic"));
    out->subtitle = as_flag(ss_get(payload, "subtitle"));
    out->count = (int)ss_as_int(ss_get(payload, "count"));
    out->frame = ss_as_int(ss_get(payload, "frame"));
    return SS_OK;
}

/* ------------------------------------------------------------------------------------ client */
struct ss_client {
    void *ctx, *sock;
    int timeout_ms;
    uint32_t next_id;
    mp_buf out;
    arena arena;
    ss_value reply;
    char error[512];
    char error_code[32];
};

struct ss_batch {
    ss_client *c;
    mp_buf items;
    uint32_t n;
    int bad;
};

static int fail(ss_client *c, int rc, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    snprintf(c->error_code, sizeof c->error_code, "%s", code);
    return rc;
}

ss_client *ss_connect(const char *endpoint, int timeout_ms) {
    ss_client *c = (ss_client *)calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ctx = zmq_ctx_new();
    c->sock = c->ctx ? zmq_socket(c->ctx, ZMQ_DEALER) : NULL;
    if (!c->sock) { ss_close(c); return NULL; }
    int linger = 200, hwm = 100000, ivl_max = 2000;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (zmq_connect(c->sock, endpoint) != 0) { ss_close(c); return NULL; }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    c->next_id = 1;
    return c;
}

void ss_close(ss_client *c) {
    if (!c) return;
    if (c->sock) zmq_close(c->sock);
    if (c->ctx) zmq_ctx_term(c->ctx);
    free(c->out.p);
    arena_free(&c->arena);
    free(c);
}

void ss_set_timeout(ss_client *c, int timeout_ms) { c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1; }
const char *ss_last_error(const ss_client *c) { return c->error; }
const char *ss_last_error_code(const ss_client *c) { return c->error_code; }

/* Start a message: envelope keys, then the caller writes n_fields key/value pairs. */
static uint32_t begin(ss_client *c, const char *type, int n_fields, int want_id, double t) {
    int with_t = !isnan(t);
    uint32_t id = 0;
    c->out.n = 0;
    c->out.oom = 0;
    mp_map(&c->out, (uint32_t)(2 + (want_id ? 1 : 0) + (with_t ? 1 : 0) + n_fields));
    mp_str(&c->out, "v");
    mp_int(&c->out, SS_PROTOCOL_VERSION);
    mp_str(&c->out, "type");
    mp_str(&c->out, type);
    if (want_id) {
        id = c->next_id++;
        if (c->next_id == 0) c->next_id = 1;
        mp_str(&c->out, "id");
        mp_int(&c->out, id);
    }
    if (with_t) {
        mp_str(&c->out, "t");
        mp_f64(&c->out, t);
    }
    return id;
}

static int send_out(ss_client *c) {
    if (c->out.oom) return fail(c, SS_ERR_ARG, "", "out of memory while encoding");
    if (zmq_send(c->sock, c->out.p, c->out.n, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EAGAIN)
            return fail(c, SS_ERR_FULL, "", "send queue full (is the daemon running?): message dropped");
        return fail(c, SS_ERR_ZMQ, "", "zmq_send: %s", zmq_strerror(zmq_errno()));
    }
    return SS_OK;
}

/* Send the message in c->out and wait for the reply with this id. */
static const ss_value *request(ss_client *c, uint32_t id, const char *what, int *rc) {
    *rc = send_out(c);
    if (*rc != SS_OK) return NULL;
    zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
    void *watch = zmq_stopwatch_start(); /* portable monotonic clock (microseconds) */
    long left = c->timeout_ms;
    while (left > 0) {
        int n = zmq_poll(&item, 1, left);
        if (n < 0 && zmq_errno() != EINTR) {
            zmq_stopwatch_stop(watch);
            *rc = fail(c, SS_ERR_ZMQ, "", "zmq_poll: %s", zmq_strerror(zmq_errno()));
            return NULL;
        }
        if (n > 0) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, c->sock, 0) >= 0) {
                const ss_value *r = decode(&c->arena, &c->reply, zmq_msg_data(&m), zmq_msg_size(&m));
                zmq_msg_close(&m);
                if (r && ss_as_int(ss_get(r, "id")) == (int64_t)id) {
                    zmq_stopwatch_stop(watch);
                    const char *type = ss_as_str(ss_get(r, "type"));
                    if (type && strcmp(type, "error") == 0) {
                        const char *code = ss_as_str(ss_get(r, "code"));
                        const char *msg = ss_as_str(ss_get(r, "message"));
                        *rc = fail(c, SS_ERR_DAEMON, code ? code : "", "%s: %s", what, msg ? msg : "error");
                        return NULL;
                    }
                    *rc = SS_OK;
                    return r;
                } /* else: a late reply to an earlier, timed-out request: ignore it */
            } else {
                zmq_msg_close(&m);
            }
        }
        left = c->timeout_ms - (long)(zmq_stopwatch_intermediate(watch) / 1000);
    }
    zmq_stopwatch_stop(watch);
    *rc = fail(c, SS_ERR_TIMEOUT, "", "%s: no reply within %d ms (is the daemon running?)", what, c->timeout_ms);
    return NULL;
}

int ss_hello(ss_client *c, const char *name, ss_hello_info *out) {
    uint32_t id = begin(c, "hello", name ? 1 : 0, 1, SS_NOW);
    if (name) { mp_str(&c->out, "name"); mp_str(&c->out, name); }
    int rc;
    const ss_value *r = request(c, id, "hello", &rc);
    if (!r) return rc;
    int protocol = (int)ss_as_int(ss_get(r, "protocol"));
    if (protocol != SS_PROTOCOL_VERSION)
        return fail(c, SS_ERR_VERSION, "bad_version", "hello: the daemon speaks protocol %d, this client %d",
                    protocol, SS_PROTOCOL_VERSION);
    if (out) {
        out->protocol = protocol;
        out->sample_rate = (int)ss_as_int(ss_get(r, "sample_rate"));
        out->block = (int)ss_as_int(ss_get(r, "block"));
        out->scene = ss_as_str(ss_get(ss_get(r, "scene"), "name"));
        out->reply = r;
    }
    return SS_OK;
}

/* Field writers shared by single messages and batch items. */
static void w_param(mp_buf *b, const char *name, double value) {
    mp_str(b, "name"); mp_str(b, name); mp_str(b, "value"); mp_f64(b, value);
}
static void w_group(mp_buf *b, const char *group, const char *value, const char *object) {
    mp_str(b, "group"); mp_str(b, group); mp_str(b, "value"); mp_str(b, value);
    if (object) { mp_str(b, "object"); mp_str(b, object); }
}
static const ss_trigger_opts NO_OPTS = {NULL, NULL, 0, NULL, NULL, 0};
static ss_trigger_opts trigger_opts(const double *pos, const ss_param *params, int n_params, const char *object) {
    ss_trigger_opts o = NO_OPTS;
    o.position = pos;
    o.params = params;
    o.n_params = n_params;
    o.object = object;
    return o;
}
static int trigger_ok(const char *event, const ss_trigger_opts *o) {
    return event && (o->n_params <= 0 || o->params) && (o->n_switches <= 0 || o->switches);
}
static int n_trigger(const ss_trigger_opts *o) {
    return 1 + (o->position != NULL) + (o->n_params > 0) + (o->object != NULL) + (o->n_switches > 0);
}
static void w_trigger(mp_buf *b, const char *event, const ss_trigger_opts *o) {
    mp_str(b, "event"); mp_str(b, event);
    if (o->position) { mp_str(b, "position"); mp_vec3(b, o->position); }
    if (o->n_params > 0) {
        mp_str(b, "params");
        mp_map(b, (uint32_t)o->n_params);
        for (int i = 0; i < o->n_params; i++) { mp_str(b, o->params[i].name); mp_f64(b, o->params[i].value); }
    }
    if (o->object) { mp_str(b, "object"); mp_str(b, o->object); }
    if (o->n_switches > 0) {
        mp_str(b, "switches");
        mp_map(b, (uint32_t)o->n_switches);
        for (int i = 0; i < o->n_switches; i++) { mp_str(b, o->switches[i].group); mp_str(b, o->switches[i].value); }
    }
}
static void w_stop(mp_buf *b, long long instance, int release) {
    mp_str(b, "instance"); mp_int(b, instance); mp_str(b, "release"); mp_bool(b, release);
}
static const double DEF_FWD[3] = {0.0, 0.0, -1.0}, DEF_UP[3] = {0.0, 1.0, 0.0}, DEF_VEL[3] = {0.0, 0.0, 0.0};
static void w_listener(mp_buf *b, const double *p, const double *f, const double *u, const double *v) {
    mp_str(b, "position"); mp_vec3(b, p);
    mp_str(b, "forward"); mp_vec3(b, f ? f : DEF_FWD);
    mp_str(b, "up"); mp_vec3(b, u ? u : DEF_UP);
    mp_str(b, "velocity"); mp_vec3(b, v ? v : DEF_VEL);
}
static void w_object(mp_buf *b, const char *name, const double *p, const double *f, const double *v) {
    mp_str(b, "name"); mp_str(b, name);
    mp_str(b, "position"); mp_vec3(b, p);
    if (f) { mp_str(b, "forward"); mp_vec3(b, f); }
    if (v) { mp_str(b, "velocity"); mp_vec3(b, v); }
}
static void w_snapshot(mp_buf *b, const char *name, int on) {
    mp_str(b, "name"); mp_str(b, name); mp_str(b, "on"); mp_bool(b, on);
}
static int n_say(const char *preset, const char *emitter, const double *pos) {
    return 1 + (preset != NULL) + (emitter != NULL) + (pos != NULL);
}
static void w_say(mp_buf *b, const char *text, const char *preset, const char *emitter, const double *pos) {
    mp_str(b, "text"); mp_str(b, text);
    if (preset) { mp_str(b, "preset"); mp_str(b, preset); }
    if (emitter) { mp_str(b, "emitter"); mp_str(b, emitter); }
    if (pos) { mp_str(b, "position"); mp_vec3(b, pos); }
}
static void w_name(mp_buf *b, const char *name) { mp_str(b, "name"); mp_str(b, name); }
/* set_weight: a negative weight (SS_RELEASE) omits "weight", which hands the layer back */
static int n_weight(double weight) { return 1 + (weight >= 0.0); }
static void w_weight(mp_buf *b, const char *layer, double weight) {
    mp_str(b, "layer"); mp_str(b, layer);
    if (weight >= 0.0) { mp_str(b, "weight"); mp_f64(b, weight); }
}

#define NEED(x) do { if (!(x)) return fail(c, SS_ERR_ARG, "", "%s: " #x " is required", __func__); } while (0)

int ss_set_param(ss_client *c, const char *name, double value, double t) {
    NEED(name);
    begin(c, "set_param", 2, 0, t);
    w_param(&c->out, name, value);
    return send_out(c);
}

int ss_set_state(ss_client *c, const char *group, const char *value, double t) {
    NEED(group && value);
    begin(c, "set_state", 2, 0, t);
    w_group(&c->out, group, value, NULL);
    return send_out(c);
}

int ss_set_switch(ss_client *c, const char *group, const char *value, const char *object, double t) {
    NEED(group && value);
    begin(c, "set_switch", object ? 3 : 2, 0, t);
    w_group(&c->out, group, value, object);
    return send_out(c);
}

int ss_stop(ss_client *c, long long instance, int release, double t) {
    begin(c, "stop", 2, 0, t);
    w_stop(&c->out, instance, release);
    return send_out(c);
}

int ss_listener(ss_client *c, const double position[3], const double forward[3], const double up[3],
                const double velocity[3], double t) {
    NEED(position);
    begin(c, "listener", 4, 0, t);
    w_listener(&c->out, position, forward, up, velocity);
    return send_out(c);
}

int ss_object(ss_client *c, const char *name, const double position[3], const double forward[3],
              const double velocity[3], double t) {
    NEED(name && position);
    begin(c, "object", 2 + (forward != NULL) + (velocity != NULL), 0, t);
    w_object(&c->out, name, position, forward, velocity);
    return send_out(c);
}

int ss_snapshot(ss_client *c, const char *name, int on, double t) {
    NEED(name);
    begin(c, "snapshot", 2, 0, t);
    w_snapshot(&c->out, name, on);
    return send_out(c);
}

int ss_say(ss_client *c, const char *text, const char *preset, const char *emitter, const double position[3],
           double t) {
    NEED(text);
    begin(c, "say", n_say(preset, emitter, position), 0, t);
    w_say(&c->out, text, preset, emitter, position);
    return send_out(c);
}

int ss_stinger(ss_client *c, const char *name, double t) {
    NEED(name);
    begin(c, "stinger", 1, 0, t);
    w_name(&c->out, name);
    return send_out(c);
}

int ss_set_weight(ss_client *c, const char *layer, double weight, double t) {
    NEED(layer);
    begin(c, "set_weight", n_weight(weight), 0, t);
    w_weight(&c->out, layer, weight);
    return send_out(c);
}

static void w_bands(mp_buf *b, const char *ear, const double *v) {
    mp_str(b, ear);
    mp_array(b, SS_AUDIOGRAM_BANDS);
    for (int i = 0; i < SS_AUDIOGRAM_BANDS; i++) mp_f64(b, v[i]);
}

int ss_profile(ss_client *c, const ss_profile_opts *p, double t) {
    NEED(p && (p->audiogram_left == NULL) == (p->audiogram_right == NULL) && p->n_volume_db >= 0 &&
         (p->n_volume_db == 0 || p->volume_db) && p->n_preferences >= 0 &&
         (p->n_preferences == 0 || p->preferences));
    int ears = p->audiogram_left != NULL;
    int n = (p->name != NULL) + ears + (p->prescription != NULL) + (p->has_max_gain_db != 0) +
            (p->mono != 0) + (p->dynamic_range != NULL) + (p->n_volume_db > 0) +
            (p->has_dialogue_boost_db != 0) + (p->n_preferences > 0);
    begin(c, "profile", n, 0, t);
    mp_buf *b = &c->out;
    if (p->name) { mp_str(b, "name"); mp_str(b, p->name); }
    if (ears) {
        mp_str(b, "audiogram");
        mp_map(b, 2);
        w_bands(b, "left", p->audiogram_left);
        w_bands(b, "right", p->audiogram_right);
    }
    if (p->prescription) { mp_str(b, "prescription"); mp_str(b, p->prescription); }
    if (p->has_max_gain_db) { mp_str(b, "max_gain_db"); mp_f64(b, p->max_gain_db); }
    if (p->mono) { mp_str(b, "mono"); mp_bool(b, 1); }
    if (p->dynamic_range) { mp_str(b, "dynamic_range"); mp_str(b, p->dynamic_range); }
    if (p->n_volume_db > 0) {
        mp_str(b, "volume_db");
        mp_map(b, (uint32_t)p->n_volume_db);
        for (int i = 0; i < p->n_volume_db; i++) { mp_str(b, p->volume_db[i].name); mp_f64(b, p->volume_db[i].value); }
    }
    if (p->has_dialogue_boost_db) { mp_str(b, "dialogue_boost_db"); mp_f64(b, p->dialogue_boost_db); }
    if (p->n_preferences > 0) {
        mp_str(b, "preferences");
        mp_map(b, (uint32_t)p->n_preferences);
        for (int i = 0; i < p->n_preferences; i++) { mp_str(b, p->preferences[i].name); mp_f64(b, p->preferences[i].value); }
    }
    return send_out(c);
}

long long ss_trigger_ex(ss_client *c, const char *event, const ss_trigger_opts *opts, double t) {
    const ss_trigger_opts *o = opts ? opts : &NO_OPTS;
    NEED(trigger_ok(event, o));
    uint32_t id = begin(c, "trigger", n_trigger(o), 1, t);
    w_trigger(&c->out, event, o);
    int rc;
    const ss_value *r = request(c, id, "trigger", &rc);
    return r ? (long long)ss_as_int(ss_get(r, "instance")) : rc;
}

int ss_trigger_ex_nowait(ss_client *c, const char *event, const ss_trigger_opts *opts, double t) {
    const ss_trigger_opts *o = opts ? opts : &NO_OPTS;
    NEED(trigger_ok(event, o));
    begin(c, "trigger", n_trigger(o), 0, t);
    w_trigger(&c->out, event, o);
    return send_out(c);
}

long long ss_trigger(ss_client *c, const char *event, const double position[3], const ss_param *params,
                     int n_params, const char *object, double t) {
    ss_trigger_opts o = trigger_opts(position, params, n_params, object);
    return ss_trigger_ex(c, event, &o, t);
}

int ss_trigger_nowait(ss_client *c, const char *event, const double position[3], const ss_param *params,
                      int n_params, const char *object, double t) {
    ss_trigger_opts o = trigger_opts(position, params, n_params, object);
    return ss_trigger_ex_nowait(c, event, &o, t);
}

int ss_sync(ss_client *c, double t, long long *frame) {
    uint32_t id = begin(c, "sync", 0, 1, t);
    int rc;
    const ss_value *r = request(c, id, "sync", &rc);
    if (r && frame) *frame = ss_as_int(ss_get(r, "frame"));
    return rc;
}

const ss_value *ss_stats(ss_client *c) {
    uint32_t id = begin(c, "stats", 0, 1, SS_NOW);
    int rc;
    return request(c, id, "stats", &rc);
}

#define LOAD_SCENE_TIMEOUT_MS 10000 /* decoding a scene's assets takes longer than a round trip */

const ss_value *ss_load_scene(ss_client *c, const char *path) {
    if (!path) { fail(c, SS_ERR_ARG, "", "ss_load_scene: path is required"); return NULL; }
    uint32_t id = begin(c, "load_scene", 1, 1, SS_NOW);
    mp_str(&c->out, "path");
    mp_str(&c->out, path);
    int rc, saved = c->timeout_ms;
    if (c->timeout_ms < LOAD_SCENE_TIMEOUT_MS) c->timeout_ms = LOAD_SCENE_TIMEOUT_MS;
    const ss_value *r = request(c, id, "load_scene", &rc);
    c->timeout_ms = saved;
    return r;
}

/* ------------------------------------------------------------------------------------- batch */
#define MAX_BATCH 1024

ss_batch *ss_batch_begin(ss_client *c) {
    ss_batch *b = (ss_batch *)calloc(1, sizeof *b);
    if (b) b->c = c;
    return b;
}

static mp_buf *item(ss_batch *b, const char *type, int n_fields) {
    if (b->n >= MAX_BATCH) { b->bad = 1; return NULL; }
    b->n++;
    mp_map(&b->items, (uint32_t)(1 + n_fields));
    mp_str(&b->items, "type");
    mp_str(&b->items, type);
    return &b->items;
}

#define BNEED(x) do { if (!(x)) { b->bad = 1; return SS_ERR_ARG; } } while (0)
#define ITEM(type, n) mp_buf *w = item(b, type, n); if (!w) return SS_ERR_ARG

int ss_batch_set_param(ss_batch *b, const char *name, double value) {
    BNEED(name);
    ITEM("set_param", 2);
    w_param(w, name, value);
    return SS_OK;
}
int ss_batch_set_state(ss_batch *b, const char *group, const char *value) {
    BNEED(group && value);
    ITEM("set_state", 2);
    w_group(w, group, value, NULL);
    return SS_OK;
}
int ss_batch_set_switch(ss_batch *b, const char *group, const char *value, const char *object) {
    BNEED(group && value);
    ITEM("set_switch", object ? 3 : 2);
    w_group(w, group, value, object);
    return SS_OK;
}
int ss_batch_trigger_ex(ss_batch *b, const char *event, const ss_trigger_opts *opts) {
    const ss_trigger_opts *o = opts ? opts : &NO_OPTS;
    BNEED(trigger_ok(event, o));
    ITEM("trigger", n_trigger(o));
    w_trigger(w, event, o);
    return SS_OK;
}
int ss_batch_trigger(ss_batch *b, const char *event, const double position[3], const ss_param *params,
                     int n_params, const char *object) {
    ss_trigger_opts o = trigger_opts(position, params, n_params, object);
    return ss_batch_trigger_ex(b, event, &o);
}
int ss_batch_stop(ss_batch *b, long long instance, int release) {
    ITEM("stop", 2);
    w_stop(w, instance, release);
    return SS_OK;
}
int ss_batch_listener(ss_batch *b, const double position[3], const double forward[3], const double up[3],
                      const double velocity[3]) {
    BNEED(position);
    ITEM("listener", 4);
    w_listener(w, position, forward, up, velocity);
    return SS_OK;
}
int ss_batch_object(ss_batch *b, const char *name, const double position[3], const double forward[3],
                    const double velocity[3]) {
    BNEED(name && position);
    ITEM("object", 2 + (forward != NULL) + (velocity != NULL));
    w_object(w, name, position, forward, velocity);
    return SS_OK;
}
int ss_batch_snapshot(ss_batch *b, const char *name, int on) {
    BNEED(name);
    ITEM("snapshot", 2);
    w_snapshot(w, name, on);
    return SS_OK;
}
int ss_batch_say(ss_batch *b, const char *text, const char *preset, const char *emitter,
                 const double position[3]) {
    BNEED(text);
    ITEM("say", n_say(preset, emitter, position));
    w_say(w, text, preset, emitter, position);
    return SS_OK;
}
int ss_batch_stinger(ss_batch *b, const char *name) {
    BNEED(name);
    ITEM("stinger", 1);
    w_name(w, name);
    return SS_OK;
}
int ss_batch_set_weight(ss_batch *b, const char *layer, double weight) {
    BNEED(layer);
    ITEM("set_weight", n_weight(weight));
    w_weight(w, layer, weight);
    return SS_OK;
}

void ss_batch_free(ss_batch *b) {
    if (!b) return;
    free(b->items.p);
    free(b);
}

int ss_batch_send(ss_batch *b, double t, long long *instances, int max_items) {
    ss_client *c = b->c;
    int rc;
    if (b->bad || b->n == 0 || b->items.oom) {
        rc = fail(c, SS_ERR_ARG, "", "batch: %s", b->n == 0 ? "no items" : "an item was invalid or too many");
        ss_batch_free(b);
        return rc;
    }
    uint32_t id = begin(c, "batch", 1, instances != NULL, t);
    mp_str(&c->out, "items");
    mp_array(&c->out, b->n);
    mp_raw(&c->out, b->items.p, b->items.n);
    ss_batch_free(b);
    if (!instances) return send_out(c);
    const ss_value *r = request(c, id, "batch", &rc);
    if (!r) return rc;
    const ss_value *res = ss_get(r, "results");
    for (int i = 0; i < max_items; i++)
        instances[i] = res && res->type == SS_ARRAY && (uint32_t)i < res->len
                           ? (long long)ss_as_int(ss_get(&res->u.items[i], "instance")) : 0;
    return SS_OK;
}

/* --------------------------------------------------------------------------------- telemetry */
struct ss_subscriber {
    void *ctx, *sock;
    arena arena;
    ss_value payload;
};

ss_subscriber *ss_subscribe(const char *endpoint, const char *const *topics, int n_topics) {
    ss_subscriber *s = (ss_subscriber *)calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ctx = zmq_ctx_new();
    s->sock = s->ctx ? zmq_socket(s->ctx, ZMQ_SUB) : NULL;
    if (!s->sock) { ss_subscriber_close(s); return NULL; }
    int linger = 0, hwm = 100000;
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (n_topics <= 0) zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "", 0);
    for (int i = 0; i < n_topics; i++) zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, topics[i], strlen(topics[i]));
    if (zmq_connect(s->sock, endpoint) != 0) { ss_subscriber_close(s); return NULL; }
    return s;
}

int ss_poll(ss_subscriber *s, int timeout_ms, ss_callback cb, void *user) {
    zmq_pollitem_t item = {s->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0) return zmq_errno() == EINTR ? 0 : SS_ERR_ZMQ;
    int delivered = 0;
    for (;;) {
        char topic[256];
        int tn = zmq_recv(s->sock, topic, sizeof topic - 1, ZMQ_DONTWAIT);
        if (tn < 0) break;
        topic[tn < (int)sizeof topic - 1 ? tn : (int)sizeof topic - 1] = 0;
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(s->sock, ZMQ_RCVMORE, &more, &ml);
        if (!more) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->sock, 0) < 0) { zmq_msg_close(&m); break; }
        const ss_value *v = decode(&s->arena, &s->payload, zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (v && cb) cb(topic, v, user);
        delivered++;
    }
    return delivered;
}

void ss_subscriber_close(ss_subscriber *s) {
    if (!s) return;
    if (s->sock) zmq_close(s->sock);
    if (s->ctx) zmq_ctx_term(s->ctx);
    arena_free(&s->arena);
    free(s);
}
