import TMRVCConstants
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One-pole DC blocker `y[n] = x[n] - x[n-1] + R * y[n-1]`, `R = exp(-2 pi fc / sr)`
/// (`output.dc_cutoff_hz`, 10 Hz: -3 dB there, -0.04 dB at 100 Hz). State in `Double`, as the
/// Python reference (`tmrvc.reference_engine.output_stage`). Real-time safe.
public struct DCBlocker: Sendable {
    /// Pole radius.
    public let r: Double
    private var x1 = 0.0, y1 = 0.0

    /// Creates a blocker for `sampleRate` with the cutoff `cutoffHz`.
    public init(sampleRate: Int, cutoffHz: Double = TMRVCConstants.Output.dcCutoffHz) {
        r = exp(-2 * Double.pi * cutoffHz / Double(sampleRate))
    }

    /// Filters `count` samples in place.
    public mutating func process(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let r = self.r
        var x1 = self.x1, y1 = self.y1
        for i in 0..<count {
            let v = Double(x[i])
            let y = v - x1 + r * y1
            x1 = v
            y1 = y
            x[i] = Float(y)
        }
        self.x1 = x1
        self.y1 = y1
    }

    /// Back to silence.
    public mutating func reset() { x1 = 0; y1 = 0 }
}

/// Zero-latency safety limiter: a sample whose level times the current gain would exceed the
/// threshold (`output.limiter_threshold`, 0.98) sets the gain to `threshold / |x|` at once; the
/// gain then returns to 1 linearly over `output.limiter_release_ms` (50 ms), never past the
/// threshold. While the gain is 1
/// and the signal stays below the threshold the output is the input, bit for bit. Real-time safe.
public struct SafetyLimiter: Sendable {
    /// Largest output magnitude.
    public let threshold: Float
    /// Gain recovered per sample.
    public let releaseStep: Float
    /// Current gain (1 = transparent).
    public private(set) var gain: Float = 1
    /// Samples whose gain was below 1 since the last reset.
    public private(set) var limitedSamples = 0

    /// Creates a limiter for `sampleRate`.
    public init(sampleRate: Int, threshold: Float = Float(TMRVCConstants.Output.limiterThreshold),
                releaseMilliseconds: Double = TMRVCConstants.Output.limiterReleaseMs) {
        self.threshold = threshold
        releaseStep = Float(1 / max(1, releaseMilliseconds * Double(sampleRate) / 1000))
    }

    /// Limits one sample.
    @inline(__always)
    public mutating func process(_ x: Float) -> Float {
        let a = abs(x)
        let released = gain < 1 ? min(1, gain + releaseStep) : 1
        gain = a * released > threshold ? threshold / a : released
        if gain < 1 {
            limitedSamples += 1
            return x * gain
        }
        return x
    }

    /// Gain back to 1.
    public mutating func reset() { gain = 1; limitedSamples = 0 }
}
