/* Print the first sound caption from the daemon's telemetry, read with ss_caption_read
 * (tests/test_captions_bindings.py). Argument: PUB_ENDPOINT. */
#include <stdio.h>
#include <stdlib.h>

#include "soundscape.h"

static int done;

static void on(const char *topic, const ss_value *payload, void *user) {
    (void)user;
    ss_caption c;
    if (done || ss_caption_read(payload, &c) != SS_OK) return;
    printf("caption %s|%s|%d|%.2f|%.3f|%.2f|%d|%d|%d|%lld\n", c.text, c.importance ? c.importance : "",
           c.spatial, c.direction, c.distance, c.loudness_db, c.synthetic, c.subtitle, c.count,
           (long long)c.frame);
    fflush(stdout);
    done = topic != NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *topics[] = {"caption"};
    ss_subscriber *s = ss_subscribe(argv[1], topics, 1);
    if (!s) return 1;
    puts("ready");
    fflush(stdout);
    for (int i = 0; i < 200 && !done; i++) ss_poll(s, 100, on, NULL);
    ss_subscriber_close(s);
    return done ? 0 : 1;
}
