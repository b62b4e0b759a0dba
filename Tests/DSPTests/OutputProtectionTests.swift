import XCTest
import TMRVCConstants
@testable import TMRVCDSP

final class OutputProtectionTests: XCTestCase {
    /// The DC blocker removes a constant offset (issue 21, defect 3) and passes speech-band tones.
    func testDCBlockerRemovesOffsetAndKeepsTheVoiceBand() {
        let sr = 24000
        var dc = DCBlocker(sampleRate: sr)
        var x = (0..<sr).map { i in Float(1.2e-3 + 0.3 * sin(2 * Double.pi * 100 * Double(i) / Double(sr))) }
        x.withUnsafeMutableBufferPointer { dc.process($0.baseAddress!, count: $0.count) }
        let tail = x[(sr / 2)...]
        let mean = tail.reduce(0, +) / Float(tail.count)
        let peak = tail.map { abs($0) }.max()!
        XCTAssertLessThan(abs(mean), 1e-5)                    // 1.2e-3 offset removed
        XCTAssertEqual(peak, 0.3, accuracy: 0.3 * 0.01)      // 100 Hz within 0.1 dB
    }

    /// Below the threshold the limiter is the identity, bit for bit; above, no sample exceeds it,
    /// and the gain recovers after the release time.
    func testLimiterIsTransparentBelowAndBoundedAbove() {
        let sr = 48000
        var lim = SafetyLimiter(sampleRate: sr)
        let quiet = (0..<4800).map { i in Float(0.9 * sin(Double(i) * 0.05)) }
        XCTAssertEqual(quiet.map { lim.process($0) }, quiet)
        XCTAssertEqual(lim.limitedSamples, 0)
        var rng = SystemRandomNumberGenerator()
        let loud = (0..<4800).map { _ in Float.random(in: -4...4, using: &rng) }
        let out = loud.map { lim.process($0) }
        XCTAssertLessThanOrEqual(out.map { abs($0) }.max()!, lim.threshold * (1 + 1e-6))
        XCTAssertGreaterThan(lim.limitedSamples, 0)
        let release = Int(TMRVCConstants.Output.limiterReleaseMs * Double(sr) / 1000) + 2
        let after = (0..<release).map { _ in lim.process(0.5) }
        XCTAssertEqual(after.last, 0.5)
        XCTAssertEqual(lim.gain, 1)
    }
}
