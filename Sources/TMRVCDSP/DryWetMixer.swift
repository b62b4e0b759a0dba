#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts decibels to a linear amplitude factor (`10^(dB/20)`).
@inlinable
public func decibelsToAmplitude(_ db: Float) -> Float { powf(10, db / 20) }

/// Converts a linear amplitude factor to decibels (`20 log10(max(a, 1e-12))`).
@inlinable
public func amplitudeToDecibels(_ a: Float) -> Float { 20 * log10f(max(a, 1e-12)) }

/// Dry/wet mix with output gain: `out = gain * (mix * wet + (1 - mix) * dryDelayed)`.
///
/// Parameter changes (``setMix(_:)``, ``setGain(decibels:)``, ``setGain(linear:)``) are applied
/// with a linear ramp of ``rampLength`` samples to avoid zipper noise. The dry signal can be delayed
/// by a fixed number of samples (set at init, e.g. the engine latency) so that it lines up with the
/// converted signal. All memory is allocated in `init`; ``process(dry:wet:output:count:)`` is
/// real-time safe. Not thread safe: set parameters from the thread that calls `process` (pass them
/// through an ``SPSCQueue`` from a UI thread).
public final class DryWetMixer {
    /// Samples over which a parameter change is ramped.
    public let rampLength: Int
    /// Delay applied to the dry input, in samples.
    public let dryDelay: Int
    private var mix: Float
    private var gain: Float
    private var mixTarget: Float
    private var gainTarget: Float
    private var mixStep: Float = 0
    private var gainStep: Float = 0
    private var rampLeft = 0
    private let delayLine: UnsafeMutablePointer<Float>
    private var delayPos = 0

    /// Creates a mixer.
    ///
    /// - Parameters:
    ///   - mix: initial wet proportion in 0...1 (1 = fully converted).
    ///   - gainDecibels: initial output gain in dB.
    ///   - rampLength: parameter-change ramp in samples (≥ 1; default 480 = 20 ms at 24 kHz).
    ///   - dryDelay: delay of the dry input in samples (≥ 0).
    public init(mix: Float = 1, gainDecibels: Float = 0, rampLength: Int = 480, dryDelay: Int = 0) {
        precondition(rampLength >= 1 && dryDelay >= 0)
        self.rampLength = rampLength
        self.dryDelay = dryDelay
        self.mix = min(1, max(0, mix))
        gain = decibelsToAmplitude(gainDecibels)
        mixTarget = self.mix
        gainTarget = gain
        delayLine = .allocate(capacity: max(1, dryDelay))
        delayLine.initialize(repeating: 0, count: max(1, dryDelay))
    }

    deinit { delayLine.deallocate() }

    /// Current (possibly ramping) wet proportion.
    public var currentMix: Float { mix }
    /// Current (possibly ramping) linear output gain.
    public var currentGain: Float { gain }

    /// Sets the wet proportion (clamped to 0...1), ramped. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func setMix(_ value: Float) {
        mixTarget = min(1, max(0, value))
        startRamp()
    }

    /// Sets the output gain in dB, ramped. Real-time safe.
    public func setGain(decibels: Float) { setGain(linear: decibelsToAmplitude(decibels)) }

    /// Sets the linear output gain (≥ 0), ramped. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func setGain(linear: Float) {
        gainTarget = max(0, linear)
        startRamp()
    }

    /// Clears the dry delay line and jumps to the target parameters. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func reset() {
        rtFill(delayLine, 0, max(1, dryDelay))
        delayPos = 0
        mix = mixTarget
        gain = gainTarget
        rampLeft = 0
    }

    #if !DEBUG
    @_noAllocation
    #endif
    private func startRamp() {
        rampLeft = rampLength
        mixStep = (mixTarget - mix) / Float(rampLength)
        gainStep = (gainTarget - gain) / Float(rampLength)
    }

    /// Mixes `count` samples. `output` may be the same memory as `dry` or `wet`. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func process(dry: UnsafePointer<Float>, wet: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            var d = dry[i]
            if dryDelay > 0 {
                let delayed = delayLine[delayPos]
                delayLine[delayPos] = d
                delayPos += 1
                if delayPos == dryDelay { delayPos = 0 }
                d = delayed
            }
            if rampLeft > 0 {
                rampLeft -= 1
                if rampLeft == 0 {
                    mix = mixTarget
                    gain = gainTarget
                } else {
                    mix += mixStep
                    gain += gainStep
                }
            }
            output[i] = gain * (mix * wet[i] + (1 - mix) * d)
        }
    }
}
