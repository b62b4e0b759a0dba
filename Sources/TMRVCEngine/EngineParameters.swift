import Synchronization
import TMRVCConstants

/// Engine controls, settable from any thread and read atomically on the audio thread once per
/// hop. Values are stored as Float bit patterns in atomics (no locks).
public final class EngineParameters: Sendable {
    private let qualityBits = Atomic<UInt32>(Float(0).bitPattern)
    private let pitchBits = Atomic<UInt32>(Float(0).bitPattern)
    private let wetBits = Atomic<UInt32>(Float(1).bitPattern)
    private let gainBits = Atomic<UInt32>(Float(0).bitPattern)
    private let voiceSourceBits = Atomic<UInt32>(Float(0).bitPattern)
    private let gateBits = Atomic<UInt32>(Float(-60).bitPattern)

    public init() {}

    /// Quality knob q in [0, 1]: more lookahead, longer F0 window and more frequent room
    /// estimation at higher q; latency = 20 ms + lookahead_hops x 10 ms.
    public var quality: Float {
        get { Float(bitPattern: qualityBits.load(ordering: .relaxed)) }
        set { qualityBits.store(min(max(newValue.isFinite ? newValue : 0, 0), 1).bitPattern, ordering: .relaxed) }
    }

    /// Pitch shift in semitones (added to the converter's log2-F0 feature as semitones / 12).
    public var pitchShiftSemitones: Float {
        get { Float(bitPattern: pitchBits.load(ordering: .relaxed)) }
        set { pitchBits.store(min(max(newValue.isFinite ? newValue : 0, -24), 24).bitPattern, ordering: .relaxed) }
    }

    /// Dry/wet mix: 0 = input only (delayed to stay aligned), 1 = converted only.
    public var wet: Float {
        get { Float(bitPattern: wetBits.load(ordering: .relaxed)) }
        set { wetBits.store(min(max(newValue.isFinite ? newValue : 1, 0), 1).bitPattern, ordering: .relaxed) }
    }

    /// Output gain in dB.
    public var outputGainDB: Float {
        get { Float(bitPattern: gainBits.load(ordering: .relaxed)) }
        set { gainBits.store(min(max(newValue.isFinite ? newValue : 0, -60), 24).bitPattern, ordering: .relaxed) }
    }

    /// Voice-source blend alpha: acoustic_params[24..31] = lerp(estimated, preset, alpha).
    public var voiceSourceAlpha: Float {
        get { Float(bitPattern: voiceSourceBits.load(ordering: .relaxed)) }
        set { voiceSourceBits.store(min(max(newValue.isFinite ? newValue : 0, 0), 1).bitPattern, ordering: .relaxed) }
    }

    /// Input noise-gate threshold in dBFS (-120 disables it).
    public var gateThresholdDB: Float {
        get { Float(bitPattern: gateBits.load(ordering: .relaxed)) }
        set { gateBits.store(min(max(newValue.isFinite ? newValue : -120, -120), 0).bitPattern, ordering: .relaxed) }
    }
}

/// What the quality knob selects. Derived deterministically from q.
public struct QualityProfile: Sendable, Equatable {
    /// Hops of lookahead (0 ... streaming.max_lookahead_hops).
    public var lookaheadHops: Int
    /// F0 analysis window in 24 kHz samples.
    public var pitchWindow: Int
    /// Frames between ir_estimator runs.
    public var irUpdateInterval: Int

    /// The profile for q in [0, 1].
    public init(quality q: Float) {
        let maxLookahead = TMRVCConstants.Streaming.maxLookaheadHops
        let clamped = min(max(q, 0), 1)
        lookaheadHops = Int((clamped * Float(maxLookahead)).rounded())
        let hop = TMRVCConstants.Audio.hopLength
        // 40 ms (enough for two periods at 50 Hz) up to 40 ms + two hops per lookahead hop,
        // so the window stays centred on the frame it describes.
        pitchWindow = 4 * hop + 2 * hop * lookaheadHops
        let base = TMRVCConstants.Streaming.irUpdateInterval
        irUpdateInterval = max(2, Int((Float(2 * base) * (1 - clamped) + Float(base / 2) * clamped).rounded()))
    }

    /// Algorithmic latency in milliseconds (20 ms + lookahead x 10 ms), before resampling.
    public var latencyMilliseconds: Double {
        TMRVCConstants.Streaming.baseLatencyMs + Double(lookaheadHops) * 1000 * Double(TMRVCConstants.Audio.hopLength) / Double(TMRVCConstants.Audio.sampleRate)
    }
}
