/*
 * Test client for tools/live_check.py: plays a mono float WAV into player:out and records
 * player:in. One client (fewer context switches per period than two), so the graph
 * player -> tmrvc -> player is a cycle: the recording lags by zero or one period, which the
 * check finds. Written in C (not Python) so the test client itself does not cause xruns. Logs the
 * JACK frame time of the first played and recorded sample, and the xruns the server reported while
 * it ran (the whole graph's).
 *
 *   jack_io IN.wav OUT.wav SECONDS        (server from $JACK_DEFAULT_SERVER)
 * Starts playing once player:out and player:in both have a connection; stops after SECONDS.
 */
#include <jack/jack.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jack_client_t *player;
static jack_port_t *out_port, *in_port;
static float *input, *recording;
static long input_length, capacity;
static atomic_long played, recorded;
static atomic_int go, xruns;
static jack_nframes_t play_from, record_from;

static int record(jack_nframes_t frames);

static int count_xrun(void *arg) {
    (void)arg;
    atomic_fetch_add(&xruns, 1);
    return 0;
}

static int play(jack_nframes_t frames, void *arg) {
    (void)arg;
    record(frames);
    float *buf = jack_port_get_buffer(out_port, frames);
    memset(buf, 0, frames * sizeof(float));
    if (!atomic_load(&go)) return 0;
    long i = atomic_load(&played);
    if (i == 0) play_from = jack_last_frame_time(player);
    for (jack_nframes_t k = 0; k < frames && i + (long)k < input_length; k++) buf[k] = input[i + k];
    atomic_store(&played, i + frames);
    return 0;
}

static int record(jack_nframes_t frames) {
    const float *buf = jack_port_get_buffer(in_port, frames);
    long i = atomic_load(&recorded);
    if (i == 0) record_from = jack_last_frame_time(player);
    long n = (long)frames < capacity - i ? (long)frames : capacity - i;
    if (n > 0) memcpy(recording + i, buf, (size_t)n * sizeof(float));
    atomic_store(&recorded, i + (n > 0 ? n : 0));
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: jack_io IN.wav OUT.wav SECONDS\n"); return 2; }
    SF_INFO info = {0};
    SNDFILE *f = sf_open(argv[1], SFM_READ, &info);
    if (!f || info.channels != 1) { fprintf(stderr, "jack_io: %s: need a mono file\n", argv[1]); return 1; }
    input_length = (long)info.frames;
    input = malloc(sizeof(float) * (size_t)input_length);
    sf_readf_float(f, input, input_length);
    sf_close(f);
    double seconds = atof(argv[3]);
    capacity = (long)((seconds + 5) * info.samplerate);
    recording = calloc((size_t)capacity, sizeof(float));

    jack_status_t status;
    player = jack_client_open("player", JackNoStartServer, &status);
    if (!player) { fprintf(stderr, "jack_io: cannot open clients (0x%x)\n", (unsigned)status); return 1; }
    if ((int)jack_get_sample_rate(player) != info.samplerate) { fprintf(stderr, "jack_io: server rate differs from the file's\n"); return 1; }
    out_port = jack_port_register(player, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    in_port = jack_port_register(player, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    jack_set_process_callback(player, play, NULL);
    jack_set_xrun_callback(player, count_xrun, NULL);
    if (jack_activate(player)) { fprintf(stderr, "jack_io: cannot activate\n"); return 1; }
    printf("ready\n");
    fflush(stdout);
    for (int waited = 0;; waited++) {
        const char **a = jack_port_get_connections(out_port), **b = jack_port_get_connections(in_port);
        int connected = a && b;
        jack_free(a); jack_free(b);
        if (connected) break;
        if (waited > 6000) { fprintf(stderr, "jack_io: nothing connected within 60 s\n"); return 1; }
        usleep(10000);
    }
    atomic_store(&go, 1);
    usleep((useconds_t)(seconds * 1e6));
    jack_deactivate(player);
    long n = atomic_load(&recorded);
    SF_INFO out_info = {.samplerate = info.samplerate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *o = sf_open(argv[2], SFM_WRITE, &out_info);
    if (!o) { fprintf(stderr, "jack_io: %s: %s\n", argv[2], sf_strerror(NULL)); return 1; }
    sf_writef_float(o, recording, n);
    sf_close(o);
    printf("played from frame %u, recorded %ld samples from frame %u, %d xruns\n", play_from, n, record_from,
           atomic_load(&xruns));
    jack_client_close(player);
    return 0;
}
