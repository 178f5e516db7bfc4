/* The conformance script (SCRIPT.md) through the C client (bindings/c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "soundscape.h"

static const char *U = "T\xc3\xbcr-\xe3\x83\x89\xe3\x82\xa2-\xf0\x9f\x9a\xaa"; /* Tür-ドア-🚪 */

static void die(ss_client *c, const char *what) {
    fprintf(stderr, "%s: %s\n", what, ss_last_error(c));
    exit(1);
}

static long long want_ended = -1, got_ended = -1;
static char said[8][64]; /* presets of the `say` telemetry received, in order */
static int n_said = 0;

static void on_telemetry(const char *topic, const ss_value *payload, void *user) {
    (void)user;
    if (strcmp(topic, "instance_ended") == 0 && ss_as_int(ss_get(payload, "instance")) == want_ended)
        got_ended = want_ended;
    const char *preset = ss_as_str(ss_get(payload, "preset"));
    if (strcmp(topic, "say") == 0 && preset && n_said < 8) snprintf(said[n_said++], sizeof said[0], "%s", preset);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wait (<= 10 s) for the next `say` telemetry and print its preset. */
static void wait_said(ss_subscriber *sub, int *seen) {
    for (double end = now_s() + 10.0; n_said <= *seen && now_s() < end;)
        ss_poll(sub, 50, on_telemetry, NULL);
    if (n_said > *seen) printf("said %s\n", said[(*seen)++]);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s COMMAND_ENDPOINT PUB_ENDPOINT GO_FILE\n", argv[0]);
        return 2;
    }
    const char *topics[] = {"instance_", "say"};
    ss_subscriber *sub = ss_subscribe(argv[2], topics, 2);
    ss_client *c = ss_connect(argv[1], 5000);
    if (!c || !sub) return 1;
    ss_hello_info h;
    if (ss_hello(c, "conformance", &h) != SS_OK) die(c, "hello");
    printf("hello %d %s\n", h.protocol, h.scene);
    ss_set_param(c, "intensity", 0.25, SS_NOW);
    ss_set_param(c, "speed", 42.0, SS_NOW);
    ss_set_state(c, "weather", "rain", SS_NOW);
    ss_set_switch(c, "surface", "gravel", NULL, SS_NOW);
    ss_set_switch(c, "surface", "wood", U, SS_NOW);
    const double p1[3] = {1.5, -2.0, 3.25};
    long long i1 = ss_trigger(c, "ping", p1, NULL, 0, NULL, SS_NOW);
    if (i1 < 0) die(c, "trigger");
    printf("trigger %lld\n", i1);
    const ss_param params[2] = {{"gr\xc3\xb6\xc3\x9f" "e", 0.5}, {"pitch", -1.0}};
    long long i2 = ss_trigger(c, "hum", NULL, params, 2, U, SS_NOW);
    if (i2 < 0) die(c, "trigger");
    printf("trigger %lld\n", i2);
    const double lp[3] = {0.1, 1.7, 0.0}, lf[3] = {0.0, 0.0, -1.0}, lu[3] = {0.0, 1.0, 0.0},
                 lv[3] = {0.5, 0.0, 0.0};
    ss_listener(c, lp, lf, lu, lv, SS_NOW);
    const double op[3] = {2.0, 0.0, -3.5}, of[3] = {1.0, 0.0, 0.0}, ov[3] = {0.0, 0.0, 0.1};
    ss_object(c, U, op, of, ov, SS_NOW);
    ss_snapshot(c, "underwater", 1, SS_NOW);
    ss_stop(c, i2, 0, SS_NOW);

    ss_batch *b = ss_batch_begin(c);
    ss_batch_set_param(b, "intensity", 0.75);
    ss_batch_set_state(b, "area", "cave");
    const double sp[3] = {0.0, 0.0, -1.0}, cp[3] = {10.0, 0.0, -4.0};
    ss_batch_trigger(b, "stinger", sp, NULL, 0, NULL);
    ss_batch_object(b, "car1", cp, NULL, NULL);
    long long res[4];
    if (ss_batch_send(b, SS_NOW, res, 4) != SS_OK) die(c, "batch");
    printf("batch %lld %lld %lld %lld\n", res[0], res[1], res[2], res[3]);

    ss_set_state(c, "weather", "storm", 100.0);
    ss_set_param(c, "intensity", 0.5, 100.25);
    long long i4 = ss_trigger(c, "ping", NULL, NULL, 0, NULL, 100.5);
    if (i4 < 0) die(c, "trigger");
    printf("trigger %lld\n", i4);
    b = ss_batch_begin(c);
    ss_batch_set_switch(b, "surface", "grass", NULL);
    const double lp2[3] = {1.0, 1.7, 0.0};
    ss_batch_listener(b, lp2, NULL, NULL, NULL);
    ss_batch_send(b, 101.0, NULL, 0);
    if (ss_sync(c, SS_NOW, NULL) != SS_OK) die(c, "sync");
    printf("sync\n");
    want_ended = i1;
    for (double end = now_s() + 5.0; got_ended < 0 && now_s() < end;)
        ss_poll(sub, 100, on_telemetry, NULL);
    if (got_ended >= 0) printf("ended %lld\n", got_ended);

    const ss_switch wood[1] = {{"surface", "wood"}}, grass[1] = {{"surface", "grass"}};
    ss_trigger_opts hum = {0};
    hum.object = U;
    hum.switches = wood;
    hum.n_switches = 1;
    long long i6 = ss_trigger_ex(c, "hum", &hum, SS_NOW);
    if (i6 < 0) die(c, "trigger");
    printf("trigger %lld\n", i6);
    ss_stinger(c, "victory", SS_NOW);
    ss_set_weight(c, "door.creak", 0.25, SS_NOW);
    const double left[6] = {10.0, 20.0, 30.0, 40.0, 50.0, 60.0}, right[6] = {15.0, 20.0, 30.0, 45.0, 60.0, 70.0};
    const ss_param volumes[2] = {{"music", -6.0}, {"dialogue", 3.0}};
    ss_profile_opts prof = {0};
    prof.name = "conformance";
    prof.audiogram_left = left;
    prof.audiogram_right = right;
    prof.prescription = "half-gain";
    prof.has_max_gain_db = 1;
    prof.max_gain_db = 20.0;
    prof.mono = 1;
    prof.dynamic_range = "home";
    prof.volume_db = volumes;
    prof.n_volume_db = 2;
    prof.has_dialogue_boost_db = 1;
    prof.dialogue_boost_db = 6.0;
    const ss_param prefs[2] = {{"ambience", 0.25}, {"startle", 0.75}};
    prof.preferences = prefs;
    prof.n_preferences = 2;
    ss_profile(c, &prof, SS_NOW);
    const double speaker[3] = {1.0, 0.0, -2.0};
    ss_say(c, "Die Br\xc3\xbc" "cke ist weg, Fremder.", "ogre", NULL, speaker, SS_NOW);
    int seen = 0;
    wait_said(sub, &seen);
    b = ss_batch_begin(c);
    ss_batch_set_switch(b, "surface", "gravel", U);
    ss_batch_snapshot(b, "underwater", 0);
    ss_batch_stinger(b, "victory");
    ss_trigger_opts ping = {0};
    ping.switches = grass;
    ping.n_switches = 1;
    ss_batch_trigger_ex(b, "ping", &ping);
    ss_batch_stop(b, i6, 1);
    ss_batch_say(b, "Ja.", NULL, "door", NULL);
    ss_batch_set_weight(b, "door.creak", SS_RELEASE);
    long long res6[7];
    if (ss_batch_send(b, SS_NOW, res6, 7) != SS_OK) die(c, "batch");
    printf("batch");
    for (int i = 0; i < 7; i++) printf(" %lld", res6[i]);
    printf("\n");
    wait_said(sub, &seen);
    const ss_value *loaded = ss_load_scene(c, "dungeon.yaml");
    printf("load_scene %s\n", loaded ? "ok" : ss_last_error_code(c));
    const ss_value *st = ss_get(ss_stats(c), "stats");
    if (!st || st->type != SS_MAP) die(c, "stats");
    printf("stats");
    for (uint32_t i = 0; i < st->len; i++) printf(" %s", ss_as_str(&st->u.items[2 * i]));
    printf("\n");
    printf("part1\n");
    fflush(stdout);
    for (double end = now_s() + 60.0; access(argv[3], F_OK) != 0 && now_s() < end;) {
        struct timespec pause = {0, 20000000};
        nanosleep(&pause, NULL);
    }

    ss_set_timeout(c, 10000);
    if (ss_hello(c, "conformance", &h) != SS_OK) die(c, "hello after restart");
    printf("hello %d %s\n", h.protocol, h.scene);
    ss_set_param(c, "speed", 7.5, SS_NOW);
    const double zero[3] = {0.0, 0.0, 0.0};
    long long i5 = ss_trigger(c, "ping", zero, NULL, 0, NULL, SS_NOW);
    if (i5 < 0) die(c, "trigger");
    printf("trigger %lld\n", i5);
    if (ss_sync(c, SS_NOW, NULL) != SS_OK) die(c, "sync");
    printf("sync\ndone\n");
    ss_close(c);
    ss_subscriber_close(sub);
    return 0;
}
