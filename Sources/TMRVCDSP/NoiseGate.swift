import TMRVCConstants
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Input noise gate with hysteresis, hold and release.
///
/// Level detector: peak envelope `env = max(|x|, env * exp(-1 / (detectorRelease * sr)))`.
/// The gate opens as soon as `env >= threshold` and closes once `env < threshold - hysteresis`
/// has lasted `hold`; between the two levels it keeps its state. The gain ramps linearly to 1
/// over `attack` when open and to ``floorGain`` over `release` when closed. Levels are in dBFS of
/// the sample peak (a full-scale sine is 0 dBFS). The gate starts closed with gain = floor.
///
/// All coefficients are computed in `init`; ``process(_:output:count:)`` is real-time safe
/// (no allocation, no locks, no transcendental functions per sample). Not thread safe.
public final class NoiseGate {
    /// Open threshold in dBFS (``setThreshold(_:)`` changes it while running).
    public private(set) var thresholdDBFS: Float
    /// Hysteresis in dB (close threshold = threshold − hysteresis).
    public let hysteresisDB: Float
    /// Gain applied while fully closed (linear; 0 = mute).
    public let floorGain: Float

    private var openLevel: Float
    private var closeLevel: Float
    private let envDecay: Float
    private let attackStep: Float
    private let releaseStep: Float
    private let holdSamples: Int
    private var env: Float = 0
    private var open = false
    private var belowCount = 0
    private var gain: Float

    /// Creates a closed gate.
    ///
    /// - Parameters:
    ///   - thresholdDBFS: open threshold (peak dBFS), e.g. −50.
    ///   - hysteresisDB: the gate closes below `threshold − hysteresis` (≥ 0).
    ///   - attackMs: gain ramp 0 → 1 on opening.
    ///   - holdMs: time the level must stay below the close threshold before closing.
    ///   - releaseMs: gain ramp 1 → floor on closing.
    ///   - detectorReleaseMs: decay time constant of the peak envelope.
    ///   - floorDecibels: attenuation when closed (`-infinity` = mute).
    ///   - sampleRate: sample rate of the processed signal (default `audio.sample_rate`).
    public init(thresholdDBFS: Float = -50, hysteresisDB: Float = 6, attackMs: Double = 1,
                holdMs: Double = 50, releaseMs: Double = 100, detectorReleaseMs: Double = 20,
                floorDecibels: Float = -.infinity, sampleRate: Int = TMRVCConstants.Audio.sampleRate) {
        precondition(hysteresisDB >= 0 && attackMs >= 0 && holdMs >= 0 && releaseMs >= 0 && detectorReleaseMs > 0)
        self.thresholdDBFS = thresholdDBFS
        self.hysteresisDB = hysteresisDB
        floorGain = floorDecibels == -.infinity ? 0 : min(1, decibelsToAmplitude(floorDecibels))
        openLevel = decibelsToAmplitude(thresholdDBFS)
        closeLevel = decibelsToAmplitude(thresholdDBFS - hysteresisDB)
        let sr = Double(sampleRate)
        envDecay = Float(exp(-1 / (detectorReleaseMs / 1000 * sr)))
        let attackSamples = max(1, attackMs / 1000 * sr)
        let releaseSamples = max(1, releaseMs / 1000 * sr)
        attackStep = Float(1 / attackSamples)
        releaseStep = Float(1 / releaseSamples)
        holdSamples = Int((holdMs / 1000 * sr).rounded())
        gain = floorGain
    }

    /// Moves the open and close thresholds (a host's gate knob); the envelope, hold and gain carry
    /// on, so the change is click-free. Real-time safe.
    public func setThreshold(_ dBFS: Float) {
        thresholdDBFS = dBFS
        openLevel = decibelsToAmplitude(dBFS)
        closeLevel = decibelsToAmplitude(dBFS - hysteresisDB)
    }

    /// `true` while the gate is open.
    public var isOpen: Bool { open }
    /// Current linear gain (ramping between ``floorGain`` and 1).
    public var currentGain: Float { gain }
    /// Current peak envelope in dBFS.
    public var envelopeDBFS: Float { amplitudeToDecibels(env) }

    /// Back to the initial closed state. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func reset() {
        env = 0
        open = false
        belowCount = 0
        gain = floorGain
    }

    /// Gates `count` samples from `input` into `output` (may be the same memory). Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func process(_ input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int) {
        var env = self.env, open = self.open, belowCount = self.belowCount, gain = self.gain
        let openLevel = self.openLevel, closeLevel = self.closeLevel, envDecay = self.envDecay
        let holdSamples = self.holdSamples, attackStep = self.attackStep, releaseStep = self.releaseStep
        let floorGain = self.floorGain
        for i in 0..<count {
            let x = input[i]
            env = max(abs(x), env * envDecay)
            if env < 1e-20 { env = 0 }   // no denormals in the decaying envelope
            if env >= openLevel {
                open = true
                belowCount = 0
            } else if open && env < closeLevel {
                belowCount += 1
                if belowCount > holdSamples { open = false }
            } else {
                belowCount = 0
            }
            if open {
                gain = min(1, gain + attackStep)
            } else {
                gain = max(floorGain, gain - releaseStep)
            }
            output[i] = x * gain
        }
        self.env = env
        self.open = open
        self.belowCount = belowCount
        self.gain = gain
    }

    /// Gates `count` samples in place. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func process(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        process(UnsafePointer(buffer), output: buffer, count: count)
    }
}

/// Converts decibels to a linear amplitude factor (`10^(dB/20)`).
@inlinable
public func decibelsToAmplitude(_ db: Float) -> Float { powf(10, db / 20) }

/// Converts a linear amplitude factor to decibels (`20 log10(max(a, 1e-12))`).
@inlinable
public func amplitudeToDecibels(_ a: Float) -> Float { 20 * log10f(max(a, 1e-12)) }
