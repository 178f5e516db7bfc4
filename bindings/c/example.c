/*
 * example.c - talk to a soundscape daemon from C.
 *
 *   ./example [COMMAND_ENDPOINT [PUB_ENDPOINT [ROUND_TRIPS]]]
 *
 * Says hello, lists what the scene offers, sets the first parameter, triggers the first event at
 * a position, prints one second of callbacks (instance_started/ended, beat, bar, ...), then times
 * ROUND_TRIPS (default 200) request/reply round trips and prints median and p99: `stats` (answered
 * by the daemon's network process) and `sync` (answered once the audio process applied it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "soundscape.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void on_telemetry(const char *topic, const ss_value *payload, void *user) {
    int *count = (int *)user;
    if (strcmp(topic, "audio") == 0 || strcmp(topic, "scene") == 0) return; /* periodic meters */
    const ss_value *inst = ss_get(payload, "instance");
    printf("  callback %-16s instance=%lld\n", topic, inst ? (long long)ss_as_int(inst) : -1LL);
    (*count)++;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "tcp://127.0.0.1:5570";
    const char *pub = argc > 2 ? argv[2] : "tcp://127.0.0.1:5571";
    int n = argc > 3 ? atoi(argv[3]) : 200;

    ss_subscriber *sub = ss_subscribe(pub, NULL, 0); /* all topics */
    ss_client *c = ss_connect(cmd, 2000);
    if (!c || !sub) { fprintf(stderr, "bad endpoint %s / %s\n", cmd, pub); return 1; }
    ss_hello_info info;
    if (ss_hello(c, "c-example", &info) != SS_OK) {
        fprintf(stderr, "hello: %s\n", ss_last_error(c));
        return 1;
    }
    printf("scene %s, protocol %d, %d Hz, block %d\n", info.scene, info.protocol, info.sample_rate, info.block);
    const ss_value *scene = ss_get(info.reply, "scene");
    const ss_value *params = ss_get(scene, "parameters");
    const ss_value *events = ss_get(scene, "events");
    if (params && params->type == SS_MAP && params->len > 0) {
        const char *name = ss_as_str(&params->u.items[0]);
        double hi = ss_as_double(ss_get(&params->u.items[1], "max"));
        printf("set_param %s = %g\n", name, hi);
        ss_set_param(c, name, hi, SS_NOW);
    }
    if (events && events->type == SS_ARRAY && events->len > 0) {
        const char *event = ss_as_str(&events->u.items[0]);
        const double pos[3] = {2.0, 0.0, -3.5};
        long long id = ss_trigger(c, event, pos, NULL, 0, NULL, SS_NOW);
        if (id < 0) fprintf(stderr, "trigger: %s\n", ss_last_error(c));
        else printf("trigger %s -> instance %lld\n", event, id);
    }
    int count = 0;
    for (double end = now_ms() + 1000.0; now_ms() < end;) ss_poll(sub, 50, on_telemetry, &count);

    double *rtt = (double *)malloc(sizeof(double) * (n > 0 ? n : 1));
    for (int kind = 0; kind < 2 && n > 0; kind++) { /* stats: network process only; sync: + audio */
        for (int i = 0; i < n; i++) {
            double t0 = now_ms();
            int ok = kind == 0 ? ss_stats(c) != NULL : ss_sync(c, SS_NOW, NULL) == SS_OK;
            if (!ok) { fprintf(stderr, "round trip: %s\n", ss_last_error(c)); return 1; }
            rtt[i] = now_ms() - t0;
        }
        qsort(rtt, (size_t)n, sizeof(double), cmp_double);
        printf("round trip %-5s x%d: median %.3f ms, p99 %.3f ms\n", kind == 0 ? "stats" : "sync", n,
               rtt[n / 2], rtt[(n * 99) / 100]);
    }
    free(rtt);
    ss_close(c);
    ss_subscriber_close(sub);
    return 0;
}
