/// Warps one log-mel frame in frequency, exactly `tmrvc.frontend.warp_mel` (the numpy reference):
/// every frequency scaled by `alpha` (a vocal-tract-length change of harmonics and formants together,
/// as a resampling would). Band `i` takes the value the input has at `centre_i / alpha`, found by
/// linear interpolation of the band index over the band centres in Hz (`numpy.interp`: clamped to the
/// first and last band outside them), then linear interpolation between the two neighbouring bands,
/// in `Double`, rounded to `Float` once.
///
/// The engine's content warp (`pitch.content_warp_*`) passes the content encoder's input through it
/// with `alpha = RegisterMap.contentWarp(strength:)`.
///
/// Real-time safety: the band centres are copied into an allocation at init; ``apply(alpha:input:output:)``
/// allocates and locks nothing.
public final class MelWarp: @unchecked Sendable {
    /// Number of mel bands.
    public let bandCount: Int
    private let centres: UnsafeMutablePointer<Double>

    /// A warp for the project's mel filterbank (`frontend.*`).
    public convenience init() { self.init(centreHz: MelFilterbank().centreHz) }

    /// A warp for bands with these centre frequencies (increasing, at least 2).
    public init(centreHz: [Double]) {
        precondition(centreHz.count >= 2, "MelWarp needs at least two bands")
        bandCount = centreHz.count
        centres = .allocate(capacity: bandCount)
        centres.initialize(from: centreHz, count: bandCount)
    }

    deinit { centres.deallocate() }

    /// `output[i] = input` read at `centre_i / alpha` (`input` and `output` hold ``bandCount`` values and
    /// must not overlap). `alpha == 1` copies. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func apply(alpha: Double, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let n = bandCount
        if alpha == 1 {
            for i in 0..<n { output[i] = input[i] }
            return
        }
        let first = centres[0], last = centres[n - 1]
        var j = 0                                   // centres[j] <= x < centres[j + 1] (x increases with i)
        for i in 0..<n {
            let x = centres[i] / alpha
            var pos: Double
            if x <= first {
                pos = 0
            } else if x >= last {
                pos = Double(n - 1)
            } else {
                while centres[j + 1] <= x { j += 1 }
                pos = Double(j) + (x - centres[j]) / (centres[j + 1] - centres[j])
            }
            let lo = Int(pos)                        // pos >= 0: truncation is floor
            let hi = min(lo + 1, n - 1)
            let w = pos - Double(lo)
            output[i] = Float((1 - w) * Double(input[lo]) + w * Double(input[hi]))
        }
    }
}
