/* TMRVC C API: types and constants (included by tmrvc.h; the Swift implementation imports these). */
#ifndef TMRVC_TYPES_H
#define TMRVC_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Bumped on any incompatible change of a function, type or constant below. */
#define TMRVC_ABI_VERSION 1u

typedef struct tmrvc_engine tmrvc_engine;

typedef enum tmrvc_status {
    TMRVC_OK = 0,
    /* Processed, but the block was longer than the prepared maximum (split internally). */
    TMRVC_BLOCK_SPLIT = 1,
    TMRVC_ERROR_NULL_HANDLE = -1,
    TMRVC_ERROR_INVALID_ARGUMENT = -2,
    TMRVC_ERROR_UNSUPPORTED_RATE = -3,
    TMRVC_ERROR_UNSUPPORTED_BLOCK = -4,
    TMRVC_ERROR_NOT_PREPARED = -5,
    TMRVC_ERROR_MODEL = -6,
    TMRVC_ERROR_SPEAKER = -7
} tmrvc_status;

typedef enum tmrvc_parameter {
    TMRVC_PARAM_Q = 0,             /* quality 0...1: latency 20 ms + lookahead x 10 ms */
    TMRVC_PARAM_PITCH = 1,         /* semitones -24...24, added after the register mapping */
    TMRVC_PARAM_DRY_WET = 2,       /* 0 dry ... 1 converted */
    TMRVC_PARAM_GAIN = 3,          /* output gain dB -60...24 */
    TMRVC_PARAM_GATE = 4,          /* input gate threshold dBFS -120 (off)...0 */
    TMRVC_PARAM_REGISTER_MODE = 5, /* 0 automatic (into the speaker's register), 1 shift only */
    TMRVC_PARAM_VOICE_SOURCE = 6,  /* voice-source preset blend 0...1 */
    TMRVC_PARAM_COUNT = 7
} tmrvc_parameter;

/* tmrvc_create flags */
#define TMRVC_CREATE_FLOAT16 1u   /* matrix weights as half floats */
#define TMRVC_CREATE_INT8 2u      /* matrix weights as int8, one scale per output channel (not with FLOAT16) */

typedef struct tmrvc_statistics {
    uint64_t hops;                     /* 10 ms hops processed */
    double last_hop_microseconds;      /* cost of the latest hop (budget 10,000) */
    double max_hop_microseconds;
    uint64_t overload_reductions;      /* times the overload control lowered q */
    uint64_t underruns;
    uint64_t crossfades;               /* speaker or q changes */
    double output_f0_hz;               /* 0 when unvoiced */
    uint64_t non_finite_input_samples; /* NaN/Inf input samples replaced by 0 */
    uint64_t non_finite_hops;          /* hops replaced by silence (model states reset) */
    uint64_t non_finite_output_samples;
    uint64_t limited_samples;          /* samples the safety limiter reduced */
    float effective_q;                 /* q in use (the user's, or lower after an overload) */
    uint32_t latency_samples;
} tmrvc_statistics;

/* 1: this library runs on any x86-64 CPU (its hot loops are built twice, for AVX2/FMA and for
 * baseline x86-64, and chosen at load: tmrvc_kernels() says which). Kept for hosts written
 * against the first release, which checked it before any other call. */
#ifdef __cplusplus
extern "C"
#endif
int tmrvc_cpu_supported(void);

#endif /* TMRVC_TYPES_H */
