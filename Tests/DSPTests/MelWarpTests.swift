import XCTest
import TMRVCDSP

/// `MelWarp` (the engine's content warp; `tmrvc.frontend.warp_mel` is the reference, and the engine
/// test `ReferenceEngineTests.testContentWarpMatchesPythonReferencePipeline` compares the two end to end).
final class MelWarpTests: XCTestCase {
    let centres = MelFilterbank().centreHz

    /// On a frame whose value is its band index, the warped frame holds, per band, the fractional
    /// index of the frequency `centre / alpha`: mapped back through the band centres it must give
    /// that frequency (clamped to the first and last band outside them). Alpha 1 copies.
    func testBandsReadTheInputAtTheScaledFrequency() {
        let warp = MelWarp()
        let n = warp.bandCount
        XCTAssertEqual(n, 80)
        let ramp = (0..<n).map(Float.init)
        var out = [Float](repeating: -1, count: n)
        for alpha in [0.8, 0.93, 1.0, 1.1, 1.25] {
            warp.apply(alpha: alpha, input: ramp, output: &out)
            for i in 0..<n {
                let want = centres[i] / alpha
                let pos = Double(out[i])
                let lo = min(Int(pos), n - 2), w = pos - Double(lo)
                let got = (1 - w) * centres[lo] + w * centres[lo + 1]
                if want <= centres[0] {
                    XCTAssertEqual(out[i], 0, "alpha \(alpha) band \(i)")
                } else if want >= centres[n - 1] {
                    XCTAssertEqual(out[i], Float(n - 1), "alpha \(alpha) band \(i)")
                } else {
                    XCTAssertEqual(got, want, accuracy: 1e-4 * want, "alpha \(alpha) band \(i)")
                }
            }
            if alpha == 1 { XCTAssertEqual(out, ramp) }
        }
    }

    /// A single raised band moves to the band whose centre is nearest alpha times its centre
    /// (formants and harmonics move up for alpha > 1, down for alpha < 1).
    func testAPeakMovesByAlpha() {
        let warp = MelWarp()
        for (band, alpha) in [(30, 1.2), (50, 0.85), (20, 0.8)] {
            var frame = [Float](repeating: -10, count: warp.bandCount)
            frame[band] = 0
            var out = [Float](repeating: 0, count: warp.bandCount)
            warp.apply(alpha: alpha, input: frame, output: &out)
            let peak = out.indices.max { out[$0] < out[$1] }!
            let want = centres.indices.min { abs(centres[$0] - alpha * centres[band]) < abs(centres[$1] - alpha * centres[band]) }!
            XCTAssertLessThanOrEqual(abs(peak - want), 1, "band \(band), alpha \(alpha): peak at \(peak), expected near \(want)")
            XCTAssertTrue(out.allSatisfy { $0.isFinite && $0 <= 0 && $0 >= -10 })
        }
    }
}
