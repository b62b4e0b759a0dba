/* A minimal JACK client for `tmrvc live`: one mono input port, one mono output port, a process
 * function called on JACK's real-time thread. libjack is loaded with dlopen when a client is
 * opened, so the tmrvc binary neither links nor needs JACK unless `tmrvc live` runs. */
#ifndef TMRVC_JACK_HOST_H
#define TMRVC_JACK_HOST_H

#include <stddef.h>
#include <stdint.h>

typedef struct tmrvc_jack_host tmrvc_jack_host;

/* Called on JACK's real-time thread for every period: convert `frames` samples from `input` to `output`. */
typedef void (*tmrvc_jack_process_fn)(void *context, const float *input, float *output, uint32_t frames);

/* Opens a client named `name` (never starts a server) with ports "in" and "out". NULL on failure,
 * with a message in `error`. */
tmrvc_jack_host *tmrvc_jack_host_open(const char *name, tmrvc_jack_process_fn process, void *context,
                                      char *error, size_t error_size);
uint32_t tmrvc_jack_host_sample_rate(const tmrvc_jack_host *host);
uint32_t tmrvc_jack_host_buffer_size(const tmrvc_jack_host *host);
/* The processing latency (samples) added to the ports' latency ranges (JACK latency API). Any thread. */
void tmrvc_jack_host_set_latency(tmrvc_jack_host *host, uint32_t samples);
int tmrvc_jack_host_activate(tmrvc_jack_host *host, char *error, size_t error_size);
/* Connects `source` to our input ("in") or our output to `destination` (full port names). */
int tmrvc_jack_host_connect_input(tmrvc_jack_host *host, const char *source, char *error, size_t error_size);
int tmrvc_jack_host_connect_output(tmrvc_jack_host *host, const char *destination, char *error, size_t error_size);
/* Full name of our port ("tmrvc:in", "tmrvc:out"). */
const char *tmrvc_jack_host_port_name(const tmrvc_jack_host *host, int output);
uint64_t tmrvc_jack_host_xruns(const tmrvc_jack_host *host);
uint64_t tmrvc_jack_host_periods(const tmrvc_jack_host *host);
/* JACK frame time at the start of the first period processed (valid once periods > 0). */
uint64_t tmrvc_jack_host_first_frame(const tmrvc_jack_host *host);
/* JACK's DSP load estimate, percent. */
float tmrvc_jack_host_cpu_load(const tmrvc_jack_host *host);
/* 0 once the server shut the client down. */
int tmrvc_jack_host_alive(const tmrvc_jack_host *host);
/* Deactivates and closes the client (NULL allowed). */
void tmrvc_jack_host_close(tmrvc_jack_host *host);

#endif
