/*
 * TMRVC C API: real-time voice conversion engine (libtmrvc.so / libtmrvc.a).
 *
 * One opaque handle per engine instance. Thread contract (docs/design/host-integration.md):
 *   - real-time safe (no allocation, no locks, no system calls; call from the audio thread):
 *       tmrvc_process, tmrvc_set_parameter, tmrvc_get_parameter, tmrvc_latency_samples,
 *       tmrvc_get_statistics, tmrvc_speaker_generation, tmrvc_status_string,
 *       tmrvc_abi_version, tmrvc_parameter_info, tmrvc_cpu_supported, tmrvc_kernels
 *   - any thread, never the audio thread (they read files or allocate):
 *       tmrvc_create, tmrvc_destroy, tmrvc_prepare, tmrvc_reset, tmrvc_load_speaker,
 *       tmrvc_load_speaker_memory, tmrvc_last_error
 *   - tmrvc_process must be called from one thread at a time, and not during tmrvc_prepare,
 *     tmrvc_reset or tmrvc_destroy. Loading a speaker while audio runs is the normal case: the
 *     audio thread picks it up at its next 10 ms hop and crossfades to it over 100 ms.
 *   - Until a speaker is loaded the output is the input delayed by the latency (dry).
 */
#ifndef TMRVC_H
#define TMRVC_H

#include "tmrvc_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of the library actually loaded; compare with TMRVC_ABI_VERSION at start-up. */
uint32_t tmrvc_abi_version(void);

/* The kernel build this process uses: "avx2" (AVX2/FMA, chosen where the CPU has them) or
 * "generic" (baseline x86-64; also when TMRVC_KERNELS=generic is set in the environment at load).
 * Static string, never NULL. */
const char *tmrvc_kernels(void);

/* A static English description of a status code (never NULL). */
const char *tmrvc_status_string(tmrvc_status status);

/* Range, default and plain name ("q", "pitch", "dry_wet", ...) of a parameter. Any pointer may
 * be NULL. Returns TMRVC_ERROR_INVALID_ARGUMENT for an unknown id. */
tmrvc_status tmrvc_parameter_info(tmrvc_parameter id, float *minimum, float *maximum, float *default_value,
                                  const char **name);

/* Loads the five models from `models_dir` (content_encoder.onnx, ...) and plans the FFTs.
 * flags: TMRVC_CREATE_FLOAT16 stores matrix weights as half floats (faster, less exact);
 * TMRVC_CREATE_INT8 as int8 with one scale per output channel (fastest, least exact); not both.
 * On failure *out_engine is NULL and `error` (if not NULL) receives a message naming the file. */
tmrvc_status tmrvc_create(const char *models_dir, uint32_t flags, tmrvc_engine **out_engine,
                          char *error, size_t error_size);

/* Frees the engine (NULL is allowed). */
void tmrvc_destroy(tmrvc_engine *engine);

/* Sizes every buffer for the host's sample rate (24000, 44100 or 48000 Hz), blocks of up to
 * `max_block` frames (1...65536) and `channels` channels (1...16; inputs are averaged to mono,
 * the converted mono signal goes to every output channel), and resets the stream. */
tmrvc_status tmrvc_prepare(tmrvc_engine *engine, uint32_t sample_rate, uint32_t max_block, uint32_t channels);

/* Returns to the start of a stream (states, histories); keeps the speaker and parameters. */
tmrvc_status tmrvc_reset(tmrvc_engine *engine);

/* Processes `frames` frames of planar audio: inputs[c][i] -> outputs[c][i] for the prepared
 * channel count (outputs may alias inputs). Never writes a non-finite sample.
 * Returns TMRVC_OK, TMRVC_BLOCK_SPLIT (frames > max_block: processed correctly in pieces),
 * TMRVC_ERROR_NOT_PREPARED (outputs silenced), TMRVC_ERROR_NULL_HANDLE or
 * TMRVC_ERROR_INVALID_ARGUMENT (NULL buffers; nothing written). */
tmrvc_status tmrvc_process(tmrvc_engine *engine, const float *const *inputs, float *const *outputs, uint32_t frames);

/* Sets a parameter (clamped to its range; applied smoothly at the next block or hop).
 * TMRVC_ERROR_INVALID_ARGUMENT for an unknown id or a non-finite value (nothing changes). */
tmrvc_status tmrvc_set_parameter(tmrvc_engine *engine, tmrvc_parameter id, float value);

/* Current value of a parameter (after clamping); NaN for a NULL engine or an unknown id. */
float tmrvc_get_parameter(const tmrvc_engine *engine, tmrvc_parameter id);

/* Input-to-output latency in host samples at the prepared rate (0 before tmrvc_prepare). It
 * changes with q (also when the overload control lowers q): poll it, e.g. once per block. */
uint32_t tmrvc_latency_samples(const tmrvc_engine *engine);

/* Reads and validates a .tmrvc_speaker file and hands it to the audio thread. */
tmrvc_status tmrvc_load_speaker(tmrvc_engine *engine, const char *path);

/* The same from the file's bytes (e.g. restored from a host's saved state). */
tmrvc_status tmrvc_load_speaker_memory(tmrvc_engine *engine, const void *bytes, size_t size);

/* Number of speakers the audio thread has picked up so far. */
uint64_t tmrvc_speaker_generation(const tmrvc_engine *engine);

/* Copies the statistics as of the end of the last tmrvc_process call. Pass
 * sizeof(tmrvc_statistics): fields the library does not know stay untouched. */
tmrvc_status tmrvc_get_statistics(const tmrvc_engine *engine, tmrvc_statistics *statistics, size_t size);

/* Copies the message of the most recent failed non-real-time call on this engine into `buffer`
 * (NUL-terminated, truncated to `size`); returns the message's full length. */
size_t tmrvc_last_error(const tmrvc_engine *engine, char *buffer, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TMRVC_H */
