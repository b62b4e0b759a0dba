import XCTest
import TMRVCConstants
@testable import TMRVCDSP

final class UtilityTests: XCTestCase {
    func testCrossfaderCurves() {
        let a = [Float](repeating: 1, count: 20), b = [Float](repeating: 0, count: 20)
        let lin = Crossfader(length: 10, curve: .linear)
        var out = [Float](repeating: -1, count: 20)
        lin.process(from: a, to: b, output: &out, count: 20)
        XCTAssertEqual(out, b, "idle crossfader passes `to`")
        lin.start()
        XCTAssertTrue(lin.isActive)
        lin.process(from: a, to: b, output: &out, count: 4)
        XCTAssertEqual(lin.remaining, 6)
        out.withUnsafeMutableBufferPointer { p in lin.process(from: a, to: b, output: p.baseAddress! + 4, count: 16) }
        for i in 0..<10 { XCTAssertEqual(out[i], 1 - Float(i + 1) / 10, accuracy: 1e-6) }
        for i in 10..<20 { XCTAssertEqual(out[i], 0) }
        XCTAssertFalse(lin.isActive)

        // Equal power: gOut^2 + gIn^2 = 1 at every sample; uncorrelated signals keep their power.
        let ep = Crossfader(length: 64, curve: .equalPower)
        ep.start()
        let ones = [Float](repeating: 1, count: 64), zeros = [Float](repeating: 0, count: 64)
        var gOut = [Float](repeating: 0, count: 64), gIn = [Float](repeating: 0, count: 64)
        ep.process(from: ones, to: zeros, output: &gOut, count: 64)
        ep.start()
        ep.process(from: zeros, to: ones, output: &gIn, count: 64)
        for i in 0..<64 { XCTAssertEqual(gOut[i] * gOut[i] + gIn[i] * gIn[i], 1, accuracy: 1e-5) }
        XCTAssertEqual(gIn[63], 1)
        XCTAssertEqual(gOut[63], 0)

        // Default length from streaming.crossfade_ms at audio.sample_rate; in-place on `to`.
        let def = Crossfader()
        XCTAssertEqual(def.length, Int(TMRVCConstants.Streaming.crossfadeMs * Double(TMRVCConstants.Audio.sampleRate) / 1000))
        var inPlace: [Float] = [2, 2, 2]
        let one = Crossfader(length: 1)
        one.start()
        inPlace.withUnsafeMutableBufferPointer { p in
            one.process(from: [5, 5, 5], to: p.baseAddress!, output: p.baseAddress!, count: 3)
        }
        XCTAssertEqual(inPlace, [2, 2, 2])
    }

    func testDryWetMixerRampsAndDelays() {
        let m = DryWetMixer(mix: 0, gainDecibels: 0, rampLength: 4, dryDelay: 3)
        let dry: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        let wet = [Float](repeating: 10, count: 8)
        var out = [Float](repeating: 0, count: 8)
        m.process(dry: dry, wet: wet, output: &out, count: 8)
        XCTAssertEqual(out, [0, 0, 0, 1, 2, 3, 4, 5], "dry delayed by 3, fully dry")
        m.setMix(1)
        m.setGain(decibels: -6.0206)
        m.process(dry: dry, wet: wet, output: &out, count: 8)
        // mix ramps 0.25, 0.5, 0.75, 1; gain ramps from 1 to 0.5 likewise
        let gains: [Float] = [0.875, 0.75, 0.625, 0.5]
        let mixes: [Float] = [0.25, 0.5, 0.75, 1]
        let delayed: [Float] = [6, 7, 8, 1]
        for i in 0..<4 {
            XCTAssertEqual(out[i], gains[i] * (mixes[i] * 10 + (1 - mixes[i]) * delayed[i]), accuracy: 1e-3)
        }
        for i in 4..<8 { XCTAssertEqual(out[i], 5, accuracy: 1e-3) }
        XCTAssertEqual(m.currentMix, 1)
        XCTAssertEqual(m.currentGain, 0.5, accuracy: 1e-4)
        XCTAssertEqual(decibelsToAmplitude(amplitudeToDecibels(0.25)), 0.25, accuracy: 1e-6)
    }

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
