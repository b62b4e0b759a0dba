// JACK client used by `tmrvc live` (see include/jack_host.h). JACK's C API is declared here (the
// few stable entry points used) and resolved with dlopen/dlsym, so building needs no JACK headers
// and running needs libjack only for `tmrvc live`.
#define _GNU_SOURCE
#include "jack_host.h"
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t jack_nframes_t;
typedef struct _jack_client jack_client_t;
typedef struct _jack_port jack_port_t;
typedef int jack_status_t;
typedef enum { JackCaptureLatency = 0, JackPlaybackLatency = 1 } jack_latency_callback_mode_t;
typedef struct { jack_nframes_t min; jack_nframes_t max; } jack_latency_range_t;
enum { JackNoStartServer = 0x01, JackPortIsInput = 0x1, JackPortIsOutput = 0x2 };
#define JACK_DEFAULT_AUDIO_TYPE "32 bit float mono audio"

static struct {
    void *library;
    jack_client_t *(*client_open)(const char *, int, jack_status_t *, ...);
    int (*client_close)(jack_client_t *);
    int (*activate)(jack_client_t *);
    int (*deactivate)(jack_client_t *);
    int (*set_process_callback)(jack_client_t *, int (*)(jack_nframes_t, void *), void *);
    int (*set_xrun_callback)(jack_client_t *, int (*)(void *), void *);
    void (*on_shutdown)(jack_client_t *, void (*)(void *), void *);
    int (*set_latency_callback)(jack_client_t *, void (*)(jack_latency_callback_mode_t, void *), void *);
    jack_port_t *(*port_register)(jack_client_t *, const char *, const char *, unsigned long, unsigned long);
    void *(*port_get_buffer)(jack_port_t *, jack_nframes_t);
    const char *(*port_name)(const jack_port_t *);
    int (*connect)(jack_client_t *, const char *, const char *);
    jack_nframes_t (*get_sample_rate)(jack_client_t *);
    jack_nframes_t (*get_buffer_size)(jack_client_t *);
    float (*cpu_load)(jack_client_t *);
    void (*port_get_latency_range)(jack_port_t *, jack_latency_callback_mode_t, jack_latency_range_t *);
    void (*port_set_latency_range)(jack_port_t *, jack_latency_callback_mode_t, jack_latency_range_t *);
    int (*recompute_total_latencies)(jack_client_t *);
    jack_nframes_t (*last_frame_time)(const jack_client_t *);
} jack;

struct tmrvc_jack_host {
    jack_client_t *client;
    jack_port_t *in, *out;
    tmrvc_jack_process_fn process;
    void *context;
    atomic_uint_fast64_t xruns, periods, first_frame;
    atomic_uint latency;
    atomic_int alive;
    int active;
};

static int load_jack(char *error, size_t size) {
    if (jack.library) return 0;
    void *lib = dlopen("libjack.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(error, size, "cannot load libjack.so.0 (%s): install JACK (Debian: jackd2) or PipeWire's JACK (pipewire-jack)", dlerror());
        return -1;
    }
#define RESOLVE(field, symbol) \
    if (!(*(void **)&jack.field = dlsym(lib, symbol))) { snprintf(error, size, "libjack.so.0 lacks %s", symbol); dlclose(lib); return -1; }
    RESOLVE(client_open, "jack_client_open")
    RESOLVE(client_close, "jack_client_close")
    RESOLVE(activate, "jack_activate")
    RESOLVE(deactivate, "jack_deactivate")
    RESOLVE(set_process_callback, "jack_set_process_callback")
    RESOLVE(set_xrun_callback, "jack_set_xrun_callback")
    RESOLVE(on_shutdown, "jack_on_shutdown")
    RESOLVE(set_latency_callback, "jack_set_latency_callback")
    RESOLVE(port_register, "jack_port_register")
    RESOLVE(port_get_buffer, "jack_port_get_buffer")
    RESOLVE(port_name, "jack_port_name")
    RESOLVE(connect, "jack_connect")
    RESOLVE(get_sample_rate, "jack_get_sample_rate")
    RESOLVE(get_buffer_size, "jack_get_buffer_size")
    RESOLVE(cpu_load, "jack_cpu_load")
    RESOLVE(port_get_latency_range, "jack_port_get_latency_range")
    RESOLVE(port_set_latency_range, "jack_port_set_latency_range")
    RESOLVE(recompute_total_latencies, "jack_recompute_total_latencies")
    RESOLVE(last_frame_time, "jack_last_frame_time")
#undef RESOLVE
    jack.library = lib;
    return 0;
}

static int on_process(jack_nframes_t frames, void *arg) {
    tmrvc_jack_host *h = arg;
    const float *in = jack.port_get_buffer(h->in, frames);
    float *out = jack.port_get_buffer(h->out, frames);
    if (atomic_load_explicit(&h->periods, memory_order_relaxed) == 0)
        atomic_store_explicit(&h->first_frame, jack.last_frame_time(h->client), memory_order_relaxed);
    h->process(h->context, in, out, frames);
    atomic_fetch_add_explicit(&h->periods, 1, memory_order_relaxed);
    return 0;
}

static int on_xrun(void *arg) {
    tmrvc_jack_host *h = arg;
    atomic_fetch_add_explicit(&h->xruns, 1, memory_order_relaxed);
    return 0;
}

static void on_shutdown(void *arg) {
    tmrvc_jack_host *h = arg;
    atomic_store(&h->alive, 0);
}

/* Latency API: what leaves "out" is what entered "in" plus the engine's latency. */
static void on_latency(jack_latency_callback_mode_t mode, void *arg) {
    tmrvc_jack_host *h = arg;
    jack_latency_range_t range;
    uint32_t own = atomic_load_explicit(&h->latency, memory_order_relaxed);
    if (mode == JackCaptureLatency) {
        jack.port_get_latency_range(h->in, mode, &range);
        range.min += own;
        range.max += own;
        jack.port_set_latency_range(h->out, mode, &range);
    } else {
        jack.port_get_latency_range(h->out, mode, &range);
        range.min += own;
        range.max += own;
        jack.port_set_latency_range(h->in, mode, &range);
    }
}

tmrvc_jack_host *tmrvc_jack_host_open(const char *name, tmrvc_jack_process_fn process, void *context,
                                      char *error, size_t error_size) {
    if (load_jack(error, error_size) != 0) return NULL;
    jack_status_t status = 0;
    jack_client_t *client = jack.client_open(name, JackNoStartServer, &status);
    if (!client) {
        snprintf(error, error_size, "cannot connect to a JACK server (status 0x%x): is jackd (or PipeWire) running?", (unsigned)status);
        return NULL;
    }
    tmrvc_jack_host *h = calloc(1, sizeof *h);
    if (!h) { jack.client_close(client); snprintf(error, error_size, "out of memory"); return NULL; }
    h->client = client;
    h->process = process;
    h->context = context;
    atomic_store(&h->alive, 1);
    h->in = jack.port_register(client, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    h->out = jack.port_register(client, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    if (!h->in || !h->out) {
        snprintf(error, error_size, "cannot register the JACK ports");
        jack.client_close(client);
        free(h);
        return NULL;
    }
    jack.set_process_callback(client, on_process, h);
    jack.set_xrun_callback(client, on_xrun, h);
    jack.on_shutdown(client, on_shutdown, h);
    jack.set_latency_callback(client, on_latency, h);
    return h;
}

uint32_t tmrvc_jack_host_sample_rate(const tmrvc_jack_host *h) { return jack.get_sample_rate(h->client); }
uint32_t tmrvc_jack_host_buffer_size(const tmrvc_jack_host *h) { return jack.get_buffer_size(h->client); }

void tmrvc_jack_host_set_latency(tmrvc_jack_host *h, uint32_t samples) {
    if (atomic_exchange(&h->latency, samples) != samples && h->active) jack.recompute_total_latencies(h->client);
}

int tmrvc_jack_host_activate(tmrvc_jack_host *h, char *error, size_t error_size) {
    if (jack.activate(h->client) != 0) { snprintf(error, error_size, "cannot activate the JACK client"); return -1; }
    h->active = 1;
    return 0;
}

int tmrvc_jack_host_connect_input(tmrvc_jack_host *h, const char *source, char *error, size_t error_size) {
    if (jack.connect(h->client, source, jack.port_name(h->in)) != 0) {
        snprintf(error, error_size, "cannot connect %s to %s (jack_lsp lists the ports)", source, jack.port_name(h->in));
        return -1;
    }
    return 0;
}

int tmrvc_jack_host_connect_output(tmrvc_jack_host *h, const char *destination, char *error, size_t error_size) {
    if (jack.connect(h->client, jack.port_name(h->out), destination) != 0) {
        snprintf(error, error_size, "cannot connect %s to %s (jack_lsp lists the ports)", jack.port_name(h->out), destination);
        return -1;
    }
    return 0;
}

const char *tmrvc_jack_host_port_name(const tmrvc_jack_host *h, int output) { return jack.port_name(output ? h->out : h->in); }
uint64_t tmrvc_jack_host_xruns(const tmrvc_jack_host *h) { return atomic_load_explicit(&((tmrvc_jack_host *)h)->xruns, memory_order_relaxed); }
uint64_t tmrvc_jack_host_first_frame(const tmrvc_jack_host *h) { return atomic_load_explicit(&((tmrvc_jack_host *)h)->first_frame, memory_order_relaxed); }
uint64_t tmrvc_jack_host_periods(const tmrvc_jack_host *h) { return atomic_load_explicit(&((tmrvc_jack_host *)h)->periods, memory_order_relaxed); }
float tmrvc_jack_host_cpu_load(const tmrvc_jack_host *h) { return jack.cpu_load(h->client); }
int tmrvc_jack_host_alive(const tmrvc_jack_host *h) { return atomic_load(&((tmrvc_jack_host *)h)->alive); }

void tmrvc_jack_host_close(tmrvc_jack_host *h) {
    if (!h) return;
    if (h->active && atomic_load(&h->alive)) jack.deactivate(h->client);
    jack.client_close(h->client);
    free(h);
}
