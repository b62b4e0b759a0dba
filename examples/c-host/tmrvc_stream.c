/*
 * Example host for the TMRVC C API: streams a sound file through the engine in odd-sized
 * blocks, as an audio callback would, and writes the converted file aligned with the input.
 *
 *   tmrvc_stream MODELS_DIR SPEAKER IN.wav OUT.wav [q] [pitch]
 *
 * Build (see examples/c-host/README.md):
 *   cc -O2 -I dist/include examples/c-host/tmrvc_stream.c -L dist/lib -ltmrvc -lsndfile \
 *      -Wl,-rpath,dist/lib -o tmrvc_stream
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sndfile.h>
#include "tmrvc.h"

#define MAX_BLOCK 1024
#define MAX_CHANNELS 2

static int fail(const char *what, tmrvc_engine *engine, tmrvc_status status) {
    char message[512] = "";
    if (engine) tmrvc_last_error(engine, message, sizeof message);
    fprintf(stderr, "tmrvc_stream: %s: %s%s%s\n", what, tmrvc_status_string(status), message[0] ? ": " : "", message);
    tmrvc_destroy(engine);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODELS_DIR SPEAKER IN.wav OUT.wav [q] [pitch]\n", argv[0]);
        return 2;
    }
    if (tmrvc_abi_version() != TMRVC_ABI_VERSION) {
        fprintf(stderr, "tmrvc_stream: library ABI %u, header ABI %u\n", tmrvc_abi_version(), TMRVC_ABI_VERSION);
        return 1;
    }
    fprintf(stderr, "tmrvc_stream: %s kernels\n", tmrvc_kernels());
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *in = sf_open(argv[3], SFM_READ, &info);
    if (!in) { fprintf(stderr, "tmrvc_stream: %s: %s\n", argv[3], sf_strerror(NULL)); return 1; }
    if (info.channels > MAX_CHANNELS) { fprintf(stderr, "tmrvc_stream: %s: more than 2 channels\n", argv[3]); return 1; }
    const int channels = info.channels;
    const sf_count_t frames = info.frames;
    float *interleaved = malloc(sizeof(float) * (size_t)(frames * channels + 1));
    if (!interleaved || sf_readf_float(in, interleaved, frames) != frames) { fprintf(stderr, "tmrvc_stream: %s: read failed\n", argv[3]); return 1; }
    sf_close(in);

    char error[512];
    tmrvc_engine *engine = NULL;
    tmrvc_status status = tmrvc_create(argv[1], 0, &engine, error, sizeof error);
    if (status != TMRVC_OK) { fprintf(stderr, "tmrvc_stream: %s\n", error); return 1; }
    if ((status = tmrvc_prepare(engine, (uint32_t)info.samplerate, MAX_BLOCK, (uint32_t)channels)) != TMRVC_OK)
        return fail("prepare", engine, status);
    if (argc > 5 && (status = tmrvc_set_parameter(engine, TMRVC_PARAM_Q, strtof(argv[5], NULL))) != TMRVC_OK)
        return fail("q", engine, status);
    if (argc > 6 && (status = tmrvc_set_parameter(engine, TMRVC_PARAM_PITCH, strtof(argv[6], NULL))) != TMRVC_OK)
        return fail("pitch", engine, status);
    if ((status = tmrvc_load_speaker(engine, argv[2])) != TMRVC_OK) return fail("speaker", engine, status);
    /* q takes effect at the first hop; the latency is that of the q set before streaming. */
    const uint32_t latency = tmrvc_latency_samples(engine);

    /* Planar buffers, as hosts pass them; the input is followed by `latency` frames of silence so
     * the last input sample comes out, and the first `latency` output frames are dropped. */
    const sf_count_t total = frames + latency;
    float *planar_in[MAX_CHANNELS], *planar_out[MAX_CHANNELS];
    for (int c = 0; c < channels; c++) {
        planar_in[c] = calloc((size_t)total, sizeof(float));
        planar_out[c] = calloc((size_t)total, sizeof(float));
        if (!planar_in[c] || !planar_out[c]) { fprintf(stderr, "tmrvc_stream: out of memory\n"); return 1; }
        for (sf_count_t i = 0; i < frames; i++) planar_in[c][i] = interleaved[i * channels + c];
    }
    static const uint32_t pattern[] = {1, 37, 256, 511, 64, 1024, 3, 480, 999, 128};
    sf_count_t done = 0;
    size_t p = 0;
    while (done < total) {
        uint32_t n = pattern[p++ % (sizeof pattern / sizeof pattern[0])];
        if ((sf_count_t)n > total - done) n = (uint32_t)(total - done);
        const float *ins[MAX_CHANNELS];
        float *outs[MAX_CHANNELS];
        for (int c = 0; c < channels; c++) { ins[c] = planar_in[c] + done; outs[c] = planar_out[c] + done; }
        if ((status = tmrvc_process(engine, ins, outs, n)) != TMRVC_OK) return fail("process", engine, status);
        done += n;
    }
    tmrvc_statistics stats;
    tmrvc_get_statistics(engine, &stats, sizeof stats);
    fprintf(stderr, "tmrvc_stream: %lld frames, %d channel(s), %d Hz; latency %u samples; %llu hops, max hop %.0f us; "
            "%llu speaker(s) picked up\n", (long long)frames, channels, info.samplerate, latency,
            (unsigned long long)stats.hops, stats.max_hop_microseconds, (unsigned long long)tmrvc_speaker_generation(engine));

    for (sf_count_t i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++) interleaved[i * channels + c] = planar_out[c][i + latency];
    SF_INFO out_info = {.samplerate = info.samplerate, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *out = sf_open(argv[4], SFM_WRITE, &out_info);
    if (!out) { fprintf(stderr, "tmrvc_stream: %s: %s\n", argv[4], sf_strerror(NULL)); return 1; }
    if (sf_writef_float(out, interleaved, frames) != frames) { fprintf(stderr, "tmrvc_stream: %s: write failed\n", argv[4]); return 1; }
    sf_close(out);
    for (int c = 0; c < channels; c++) { free(planar_in[c]); free(planar_out[c]); }
    free(interleaved);
    tmrvc_destroy(engine);
    return 0;
}
