import XCTest
import TMRVCConstants
@testable import TMRVCDSP

final class UtilityTests: XCTestCase {
    private func tone(dBFS: Float, count: Int, freq: Double = 440) -> [Float] {
        let a = decibelsToAmplitude(dBFS)
        let sr = Double(TMRVCConstants.Audio.sampleRate)
        return (0..<count).map { a * Float(sin(2 * Double.pi * freq * Double($0) / sr)) }
    }

    /// A host's gate knob moves the thresholds while running: a -30 dBFS tone opens a -40 dBFS
    /// gate, raising the threshold to -10 closes it (after hold and release), lowering it reopens it.
    func testNoiseGateThresholdChangesWhileRunning() {
        let sr = TMRVCConstants.Audio.sampleRate
        let gate = NoiseGate(thresholdDBFS: -40, hysteresisDB: 6, attackMs: 1, holdMs: 20, releaseMs: 50,
                             detectorReleaseMs: 20, sampleRate: sr)
        let x = tone(dBFS: -30, count: sr / 2)
        var out = [Float](repeating: 0, count: x.count)
        gate.process(x, output: &out, count: x.count)
        XCTAssertTrue(gate.isOpen)
        gate.setThreshold(-10)
        XCTAssertEqual(gate.thresholdDBFS, -10)
        gate.process(x, output: &out, count: x.count)
        XCTAssertFalse(gate.isOpen)
        XCTAssertEqual(out[(sr / 4)...].map(abs).max(), 0)
        gate.setThreshold(-40)
        gate.process(x, output: &out, count: x.count)
        XCTAssertTrue(gate.isOpen)
        XCTAssertEqual(gate.currentGain, 1)
    }

    func testNoiseGateThresholdHysteresisRelease() {
        let sr = TMRVCConstants.Audio.sampleRate
        let gate = NoiseGate(thresholdDBFS: -40, hysteresisDB: 6, attackMs: 1, holdMs: 20, releaseMs: 50,
                             detectorReleaseMs: 20, sampleRate: sr)
        XCTAssertFalse(gate.isOpen)
        // Quiet noise below the threshold: stays closed and muted.
        var rng = TestRNG(seed: 5)
        let noise = (0..<sr / 2).map { _ in Float(0.001 * rng.uniform(-1, 1)) }   // peak -60 dBFS
        var out = [Float](repeating: 0, count: noise.count)
        gate.process(noise, output: &out, count: noise.count)
        XCTAssertFalse(gate.isOpen)
        XCTAssertEqual(out.map(abs).max(), 0)

        // Loud tone opens the gate; after the 1 ms attack the output equals the input.
        let loud = tone(dBFS: -20, count: sr / 2)
        gate.process(loud, output: &out, count: loud.count)
        XCTAssertTrue(gate.isOpen)
        for i in (sr / 100)..<loud.count { XCTAssertEqual(out[i], loud[i]) }

        // Between the thresholds (-43 dBFS): hysteresis keeps it open, unity gain.
        let mid = tone(dBFS: -43, count: sr / 2)
        gate.process(mid, output: &out, count: mid.count)
        XCTAssertTrue(gate.isOpen)
        XCTAssertEqual(gate.currentGain, 1)

        // Below the close threshold (-50 dBFS): closes after the hold, gain reaches 0 within the release.
        let low = tone(dBFS: -50, count: sr / 2)
        gate.process(low, output: &out, count: low.count)
        XCTAssertFalse(gate.isOpen)
        XCTAssertEqual(gate.currentGain, 0)
        let envSettle = Int(Double(sr) * 0.02 * log(Double(decibelsToAmplitude(-43) / decibelsToAmplitude(-46))))
        let closedBy = envSettle + sr * 20 / 1000 + sr * 50 / 1000 + 2 * sr / 440
        XCTAssertEqual(out[closedBy...].map(abs).max(), 0, "muted after detector decay + hold + release")
        XCTAssertGreaterThan(out[0..<(sr * 20 / 1000)].map(abs).max()!, 0, "still open during the hold")

        // Back to -43 dBFS: hysteresis keeps it closed (needs -40 to open).
        gate.process(mid, output: &out, count: mid.count)
        XCTAssertFalse(gate.isOpen)
        XCTAssertEqual(out.map(abs).max(), 0)

        gate.process(loud, output: &out, count: loud.count)
        XCTAssertTrue(gate.isOpen)
        gate.reset()
        XCTAssertFalse(gate.isOpen)
        XCTAssertEqual(gate.currentGain, 0)

        // A floor attenuation instead of muting.
        let soft = NoiseGate(thresholdDBFS: -40, floorDecibels: -20)
        var buf = tone(dBFS: -60, count: sr / 10)
        let copy = buf
        soft.process(&buf, count: buf.count)
        for i in 0..<buf.count { XCTAssertEqual(buf[i], copy[i] * 0.1, accuracy: 1e-7) }
    }
}
