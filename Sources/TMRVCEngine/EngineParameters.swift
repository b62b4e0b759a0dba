import Synchronization
import TMRVCConstants

/// Engine controls, settable from any thread and read atomically on the audio thread once per
/// hop. Values are stored as Float bit patterns in atomics (no locks).
public final class EngineParameters: Sendable {
    /// One control as hosts see it: its identifier (the C API's and the plugin's parameter name),
    /// range, default and unit. ``controls`` is the one table the C API (`tmrvc_parameter_info`),
    /// the plugin (through it), the CLI's options and `tmrvc live`'s commands read.
    public struct Control: Sendable {
        /// Identifier: `q`, `pitch`, `dry_wet`, `gain`, `gate`, `register_mode`, `voice_source`.
        public let id: StaticString
        public let range: ClosedRange<Float>
        public let defaultValue: Float
        /// Unit for messages ("" for none).
        public let unit: String
        /// What a non-finite value set from code becomes.
        let nonFinite: Float

        /// "lo...hi unit", as the CLI's and `tmrvc live`'s messages print it (e.g. `-60...24 dB`).
        public var rangeDescription: String {
            let r = "\(Self.number(range.lowerBound))...\(Self.number(range.upperBound))"
            return unit.isEmpty ? r : r + " " + unit
        }

        static func number(_ v: Float) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
    }

    public static let quality = Control(id: "q", range: 0...1, defaultValue: 0, unit: "", nonFinite: 0)
    public static let pitch = Control(id: "pitch", range: -24...24, defaultValue: 0, unit: "semitones", nonFinite: 0)
    public static let dryWet = Control(id: "dry_wet", range: 0...1, defaultValue: 1, unit: "", nonFinite: 1)
    public static let gain = Control(id: "gain", range: -60...24, defaultValue: 0, unit: "dB", nonFinite: 0)
    public static let gate = Control(id: "gate", range: -120...0, defaultValue: -60, unit: "dBFS", nonFinite: -120)
    public static let register = Control(id: "register_mode", range: 0...1, defaultValue: 0, unit: "", nonFinite: 0)
    public static let voiceSource = Control(id: "voice_source", range: 0...1, defaultValue: 0, unit: "", nonFinite: 0)
    /// The content warp's strength (default `pitch.content_warp_strength`); not yet in ``controls`` (the C
    /// API and the plugin run the default): the CLI's `--content-warp`, `tmrvc live`'s `content_warp`.
    public static let contentWarp = Control(id: "content_warp", range: 0...1,
                                            defaultValue: Float(TMRVCConstants.Pitch.contentWarpStrength), unit: "", nonFinite: 0)
    /// Every control, in the order of the C API's `tmrvc_parameter`.
    public static let controls: [Control] = [quality, pitch, dryWet, gain, gate, register, voiceSource]

    private let qualityValue = ClampedAtomicFloat(EngineParameters.quality)
    private let pitchValue = ClampedAtomicFloat(EngineParameters.pitch)
    private let wetValue = ClampedAtomicFloat(EngineParameters.dryWet)
    private let gainValue = ClampedAtomicFloat(EngineParameters.gain)
    private let voiceSourceValue = ClampedAtomicFloat(EngineParameters.voiceSource)
    private let gateValue = ClampedAtomicFloat(EngineParameters.gate)
    private let contentWarpValue = ClampedAtomicFloat(EngineParameters.contentWarp)
    private let registerValue = Atomic<Int>(Int(EngineParameters.register.defaultValue))

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

    /// Content warp strength in [0, 1] (0 = off; default `pitch.content_warp_strength`): in the automatic register mode with a speaker that has
    /// pitch statistics, the content encoder's mel frame is warped in frequency by
    /// `2^(strength (target mean - source running mean))` of log2-F0, clamped to
    /// [`pitch.content_warp_min`, `pitch.content_warp_max`], so a source far from the speaker's register
    /// reaches the encoder at the speaker's vocal-tract scale (docs/training.md "Content warp").
    public var contentWarpStrength: Float {
        get { contentWarpValue.value }
        set { contentWarpValue.value = newValue }
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

    init(_ control: EngineParameters.Control) {
        bits = Atomic(control.defaultValue.bitPattern)
        range = control.range
        nonFinite = control.nonFinite
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

    /// P: hops over which one room estimate (ir_estimator) runs, `min(streaming.ir_run_parts, interval)`.
    public var roomEstimateParts: Int { max(1, min(TMRVCConstants.Streaming.irRunParts, irUpdateInterval)) }

    /// K: hops over which the converter re-evaluates its acoustic_params nodes for a new estimate
    /// (the first shared with the estimate's last part), `min(streaming.acoustic_update_parts, interval - P + 1)`.
    public var acousticUpdateParts: Int {
        max(1, min(TMRVCConstants.Streaming.acousticUpdateParts, irUpdateInterval - roomEstimateParts + 1))
    }

    /// Hop of the IR cycle at which a room estimate started on hop 0 reaches the converter:
    /// P + K - 2 (docs/design/streaming-design.md).
    public var roomApplyOffset: Int { roomEstimateParts + acousticUpdateParts - 2 }

    /// Algorithmic latency in milliseconds (20 ms + lookahead x 10 ms), before resampling.
    public var latencyMilliseconds: Double {
        TMRVCConstants.Streaming.baseLatencyMs + Double(lookaheadHops) * 1000 * Double(TMRVCConstants.Audio.hopLength) / Double(TMRVCConstants.Audio.sampleRate)
    }
}
