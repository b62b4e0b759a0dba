import TMRVCConstants
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shape of a ``Crossfader`` transition.
public enum CrossfadeCurve: Sendable {
    /// Gains `1 - t` / `t`: constant amplitude sum (best for correlated signals).
    case linear
    /// Gains `cos(pi t / 2)` / `sin(pi t / 2)`: constant power sum (best for uncorrelated signals,
    /// e.g. two different voices).
    case equalPower
}

/// Crossfades from an old signal to a new one over a fixed number of samples.
///
/// Idle (before ``start()`` or once a fade is complete) the output is the new signal `to`. After
/// ``start()`` sample `i` of the fade is `gOut[i] * from + gIn[i] * to` with `t = (i + 1) / length`,
/// so the last sample of the fade is exactly `to`. Gain tables are computed in `init`;
/// ``process(from:to:output:count:)`` is real-time safe. Not thread safe.
public final class Crossfader {
    /// Fade length in samples.
    public let length: Int
    /// Fade shape.
    public let curve: CrossfadeCurve
    private let gainIn: UnsafeMutablePointer<Float>
    private let gainOut: UnsafeMutablePointer<Float>
    private var position: Int

    /// Creates an idle crossfader of `length` samples (≥ 1).
    public init(length: Int, curve: CrossfadeCurve = .equalPower) {
        precondition(length >= 1, "Crossfader length must be at least 1")
        self.length = length
        self.curve = curve
        gainIn = .allocate(capacity: length)
        gainOut = .allocate(capacity: length)
        for i in 0..<length {
            let t = Double(i + 1) / Double(length)
            switch curve {
            case .linear:
                gainIn[i] = Float(t)
                gainOut[i] = Float(1 - t)
            case .equalPower:
                gainIn[i] = Float(sin(Double.pi / 2 * t))
                gainOut[i] = Float(cos(Double.pi / 2 * t))
            }
        }
        gainOut[length - 1] = 0
        gainIn[length - 1] = 1
        position = length
    }

    /// Creates an idle crossfader lasting `milliseconds` (default `streaming.crossfade_ms`) at
    /// `sampleRate` (default `audio.sample_rate`).
    public convenience init(milliseconds: Double = TMRVCConstants.Streaming.crossfadeMs,
                            sampleRate: Int = TMRVCConstants.Audio.sampleRate,
                            curve: CrossfadeCurve = .equalPower) {
        self.init(length: max(1, Int((milliseconds * Double(sampleRate) / 1000).rounded())), curve: curve)
    }

    deinit {
        gainIn.deallocate()
        gainOut.deallocate()
    }

    /// Starts (or restarts) a fade at its first sample. Real-time safe.
    public func start() { position = 0 }
    /// Jumps to the end of the fade (output = `to`). Real-time safe.
    public func finish() { position = length }
    /// `true` while a fade is in progress.
    public var isActive: Bool { position < length }
    /// Samples left in the fade in progress (0 when idle).
    public var remaining: Int { length - position }

    /// Mixes `count` samples. `output` may be the same memory as `from` or `to`. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func process(from: UnsafePointer<Float>, to: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, count: Int) {
        let n = min(count, length - position)
        let gOut = gainOut + position, gIn = gainIn + position
        for i in 0..<n { output[i] = gOut[i] * from[i] + gIn[i] * to[i] }
        position += n
        if n < count && UnsafePointer(output) != to {
            rtMove(output + n, to + n, count - n)
        }
    }
}
