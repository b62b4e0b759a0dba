// generated from configs/constants.yaml by `python -m tmrvc.constants_gen`; do not edit.

/// Constants shared by the TMRVC Python tools and the Swift runtime.
public enum TMRVCConstants {
    /// `audio` section of configs/constants.yaml.
    public enum Audio {
        /// `audio.sample_rate`.
        public static let sampleRate: Int = 24000
        /// `audio.hop_length`.
        public static let hopLength: Int = 240
        /// `audio.host_sample_rates`.
        public static let hostSampleRates: [Int] = [44100, 48000]
    }
    /// `frontend` section of configs/constants.yaml.
    public enum Frontend {
        /// `frontend.n_fft`.
        public static let nFft: Int = 1024
        /// `frontend.win_length`.
        public static let winLength: Int = 960
        /// `frontend.window`.
        public static let window: String = "hann_periodic"
        /// `frontend.n_mels`.
        public static let nMels: Int = 80
        /// `frontend.fmin`.
        public static let fmin: Double = 0.0
        /// `frontend.fmax`.
        public static let fmax: Double = 12000.0
        /// `frontend.mel_scale`.
        public static let melScale: String = "slaney"
        /// `frontend.mel_norm`.
        public static let melNorm: String = "slaney"
        /// `frontend.magnitude_power`.
        public static let magnitudePower: Double = 1.0
        /// `frontend.log_floor`.
        public static let logFloor: Double = 1e-05
    }
    /// `vocoder` section of configs/constants.yaml.
    public enum Vocoder {
        /// `vocoder.n_fft`.
        public static let nFft: Int = 480
        /// `vocoder.hop_length`.
        public static let hopLength: Int = 240
        /// `vocoder.window`.
        public static let window: String = "sqrt_hann_periodic"
        /// `vocoder.log_mag_clip`.
        public static let logMagClip: Double = 7.0
    }
    /// `dims` section of configs/constants.yaml.
    public enum Dims {
        /// `dims.mel`.
        public static let mel: Int = 80
        /// `dims.content`.
        public static let content: Int = 256
        /// `dims.speaker`.
        public static let speaker: Int = 192
        /// `dims.ir_params`.
        public static let irParams: Int = 24
        /// `dims.voice_source`.
        public static let voiceSource: Int = 8
        /// `dims.acoustic_params`.
        public static let acousticParams: Int = 32
        /// `dims.pitch`.
        public static let pitch: Int = 2
        /// `dims.speaker_tokens`.
        public static let speakerTokens: Int = 8
        /// `dims.attention_dim`.
        public static let attentionDim: Int = 256
        /// `dims.attention_heads`.
        public static let attentionHeads: Int = 4
    }
    /// `excitation` section of configs/constants.yaml.
    public enum Excitation {
        /// `excitation.harmonic_cutoff_hz`.
        public static let harmonicCutoffHz: Double = 11000.0
        /// `excitation.noise_seed`.
        public static let noiseSeed: Int = 2779096485
        /// `excitation.voicing_ramp_samples`.
        public static let voicingRampSamples: Int = 60
    }
    /// `output` section of configs/constants.yaml.
    public enum Output {
        /// `output.dc_cutoff_hz`.
        public static let dcCutoffHz: Double = 10.0
        /// `output.limiter_threshold`.
        public static let limiterThreshold: Double = 0.98
        /// `output.limiter_release_ms`.
        public static let limiterReleaseMs: Double = 50.0
    }
    /// `pitch` section of configs/constants.yaml.
    public enum Pitch {
        /// `pitch.f0_ref_hz`.
        public static let f0RefHz: Double = 200.0
        /// `pitch.f0_min_hz`.
        public static let f0MinHz: Double = 50.0
        /// `pitch.f0_max_hz`.
        public static let f0MaxHz: Double = 1000.0
        /// `pitch.lowpass_hz`.
        public static let lowpassHz: Double = 1000.0
        /// `pitch.voicing_dmin_weight`.
        public static let voicingDminWeight: Double = -3.241
        /// `pitch.voicing_lowband_weight`.
        public static let voicingLowbandWeight: Double = 0.148
        /// `pitch.voicing_previous_dmin_weight`.
        public static let voicingPreviousDminWeight: Double = -3.599
        /// `pitch.voicing_bias`.
        public static let voicingBias: Double = 3.909
        /// `pitch.track_confident_dmin`.
        public static let trackConfidentDmin: Double = 0.2
        /// `pitch.track_hold_frames`.
        public static let trackHoldFrames: Int = 20
        /// `pitch.track_octave_margin`.
        public static let trackOctaveMargin: Double = 0.15
        /// `pitch.track_max_jump_octaves`.
        public static let trackMaxJumpOctaves: Double = 0.3
        /// `pitch.track_search_tolerance`.
        public static let trackSearchTolerance: Double = 0.06
        /// `pitch.register_prior_hz`.
        public static let registerPriorHz: Double = 150.0
        /// `pitch.register_prior_std`.
        public static let registerPriorStd: Double = 0.2
        /// `pitch.register_prior_frames`.
        public static let registerPriorFrames: Int = 25
        /// `pitch.register_mean_prior_frames`.
        public static let registerMeanPriorFrames: Int = 2
        /// `pitch.register_settle_frames`.
        public static let registerSettleFrames: Int = 25
        /// `pitch.register_mean_frames`.
        public static let registerMeanFrames: Int = 400
        /// `pitch.register_max_frames`.
        public static let registerMaxFrames: Int = 1000
        /// `pitch.register_std_ratio_min`.
        public static let registerStdRatioMin: Double = 0.5
        /// `pitch.register_std_ratio_max`.
        public static let registerStdRatioMax: Double = 2.0
        /// `pitch.content_warp_strength`.
        public static let contentWarpStrength: Double = 0.0
        /// `pitch.content_warp_min`.
        public static let contentWarpMin: Double = 0.8
        /// `pitch.content_warp_max`.
        public static let contentWarpMax: Double = 1.25
    }
    /// `lora` section of configs/constants.yaml.
    public enum Lora {
        /// `lora.rank`.
        public static let rank: Int = 4
        /// `lora.targets`.
        public static let targets: [String] = ["k_proj", "v_proj"]
        /// `lora.delta_size`.
        public static let deltaSize: Int = 4096
    }
    /// `streaming` section of configs/constants.yaml.
    public enum Streaming {
        /// `streaming.ir_update_interval`.
        public static let irUpdateInterval: Int = 10
        /// `streaming.ir_window_frames`.
        public static let irWindowFrames: Int = 50
        /// `streaming.ir_run_parts`.
        public static let irRunParts: Int = 7
        /// `streaming.acoustic_update_parts`.
        public static let acousticUpdateParts: Int = 4
        /// `streaming.max_lookahead_hops`.
        public static let maxLookaheadHops: Int = 6
        /// `streaming.base_latency_ms`.
        public static let baseLatencyMs: Double = 20.0
        /// `streaming.crossfade_ms`.
        public static let crossfadeMs: Double = 100.0
    }
    /// `speaker_file` section of configs/constants.yaml.
    public enum SpeakerFile {
        /// `speaker_file.extension`.
        public static let `extension`: String = "tmrvc_speaker"
        /// `speaker_file.magic`.
        public static let magic: String = "TMRVCSPK"
        /// `speaker_file.version`.
        public static let version: Int = 2
    }
}
