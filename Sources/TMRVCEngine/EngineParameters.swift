import Synchronization
import TMRVCConstants

/// Engine controls, settable from any thread and read atomically on the audio thread once per
/// hop. Values are stored as Float bit patterns in atomics (no locks).
public final class EngineParameters: Sendable {
    private let qualityValue = ClampedAtomicFloat(0, range: 0...1, nonFinite: 0)
    private let pitchValue = ClampedAtomicFloat(0, range: -24...24, nonFinite: 0)
    private let wetValue = ClampedAtomicFloat(1, range: 0...1, nonFinite: 1)
    private let gainValue = ClampedAtomicFloat(0, range: -60...24, nonFinite: 0)
    private let voiceSourceValue = ClampedAtomicFloat(0, range: 0...1, nonFinite: 0)
    private let gateValue = ClampedAtomicFloat(-60, range: -120...0, nonFinite: -120)
    private let registerValue = Atomic<Int>(RegisterMode.automatic.rawValue)

    public init() {}

    /// How the output pitch is derived from the input's.
    public enum RegisterMode: Int, Sendable, CaseIterable {
        /// Move the input's log-F0 into the speaker's register (running source statistics mapped
        /// onto the speaker file's pitch statistics), then add the pitch shift. A speaker file
        /// without pitch statistics (version 1) falls back to the shift only.
        case automatic = 0
        /// Keep the input's pitch; only the pitch shift moves it (manual).
        case shiftOnly = 1
    }

    /// Register mode (default ``RegisterMode/automatic``); settable from any thread, picked up at the next hop.
    public var registerMode: RegisterMode {
        get { RegisterMode(rawValue: registerValue.load(ordering: .relaxed)) ?? .automatic }
        set { registerValue.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// Quality knob q in [0, 1]: more lookahead, longer F0 window and more frequent room
    /// estimation at higher q; latency = 20 ms + lookahead_hops x 10 ms.
    public var quality: Float {
        get { qualityValue.value }
        set { qualityValue.value = newValue }
    }

    /// Pitch shift in semitones (added to the output log2-F0 as semitones / 12, after the register mapping).
    public var pitchShiftSemitones: Float {
        get { pitchValue.value }
        set { pitchValue.value = newValue }
    }

    /// Dry/wet mix: 0 = input only (delayed to stay aligned), 1 = converted only.
    public var wet: Float {
        get { wetValue.value }
        set { wetValue.value = newValue }
    }

    /// Output gain in dB.
    public var outputGainDB: Float {
        get { gainValue.value }
        set { gainValue.value = newValue }
    }

    /// Voice-source blend alpha: acoustic_params[24..31] = lerp(estimated, preset, alpha).
    public var voiceSourceAlpha: Float {
        get { voiceSourceValue.value }
        set { voiceSourceValue.value = newValue }
    }

    /// Input noise-gate threshold in dBFS (-120 disables it).
    public var gateThresholdDB: Float {
        get { gateValue.value }
        set { gateValue.value = newValue }
    }
}

/// A Float stored as its bit pattern in an atomic (relaxed ordering, no locks), clamped to a
/// range on every store; non-finite stores become `nonFinite`.
final class ClampedAtomicFloat: Sendable {
    private let bits: Atomic<UInt32>
    private let range: ClosedRange<Float>
    private let nonFinite: Float

    init(_ initial: Float, range: ClosedRange<Float>, nonFinite: Float) {
        bits = Atomic(initial.bitPattern)
        self.range = range
        self.nonFinite = nonFinite
    }

    var value: Float {
        get { Float(bitPattern: bits.load(ordering: .relaxed)) }
        set {
            let v = newValue.isFinite ? newValue : nonFinite
            bits.store(min(max(v, range.lowerBound), range.upperBound).bitPattern, ordering: .relaxed)
        }
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
