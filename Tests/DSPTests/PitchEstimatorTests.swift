import XCTest
import TMRVCConstants
@testable import TMRVCDSP

final class PitchEstimatorTests: XCTestCase {
    /// Harmonic signal (all harmonics below 10 kHz, amplitude 1/k, random phases), optional vibrato-free.
    private func harmonic(f0: Double, seconds: Double, seed: UInt64) -> [Float] {
        let sr = Double(TMRVCConstants.Audio.sampleRate)
        var rng = TestRNG(seed: seed)
        let count = Int(seconds * sr)
        var x = [Double](repeating: 0, count: count)
        var k = 1
        while Double(k) * f0 < 10_000 {
            let ph = rng.uniform(0, 2 * Double.pi), a = 1 / Double(k)
            let w = 2 * Double.pi * Double(k) * f0 / sr
            for n in 0..<count { x[n] += a * sin(w * Double(n) + ph) }
            k += 1
        }
        let peak = x.map(abs).max()!
        return x.map { Float(0.5 * $0 / peak) }
    }

    private func estimates(_ p: PitchEstimator, _ x: [Float], block: Int = 100) -> [PitchEstimate] {
        var out = [PitchEstimate]()
        var buf = [PitchEstimate](repeating: .unvoiced, count: block / PitchEstimator.hopLength + 2)
        var i = 0
        x.withUnsafeBufferPointer { xp in
            while i < x.count {
                let n = min(block, x.count - i)
                let c = buf.withUnsafeMutableBufferPointer { b in
                    p.process(xp.baseAddress! + i, count: n, estimates: b.baseAddress!, capacity: b.count)
                }
                out.append(contentsOf: buf[0..<c])
                i += n
            }
        }
        return out
    }

    func testHarmonicSignalsOfKnownF0() {
        var report = [String]()
        for (window, f0s) in [(960, [55.0, 70, 100, 123.4, 150, 200, 261.6, 330, 440, 523.3, 700, 880, 990]),
                              (480, [110.0, 150, 220, 440, 880])] {
            let p = PitchEstimator(windowLength: window)
            var worst = 0.0
            for (i, f0) in f0s.enumerated() {
                let x = harmonic(f0: f0, seconds: 0.5, seed: UInt64(i + 1))
                let est = estimates(p, x)
                p.reset()
                let settled = est.dropFirst(window / PitchEstimator.hopLength)
                XCTAssertFalse(settled.isEmpty)
                for e in settled {
                    XCTAssertGreaterThan(e.voicing, 0.8, "window \(window) f0 \(f0)")
                    let rel = abs(Double(e.f0Hz) - f0) / f0
                    worst = max(worst, rel)
                    XCTAssertLessThan(rel, 0.01, "window \(window) f0 \(f0): got \(e.f0Hz)")
                    XCTAssertEqual(Double(e.logF0Feature), log2(Double(e.f0Hz) / TMRVCConstants.Pitch.f0RefHz), accuracy: 1e-6)
                }
            }
            report.append("window \(window): max relative F0 error \(worst * 100) %")
        }
        print("PitchEstimator on harmonic signals: " + report.joined(separator: "; "))
    }

    func testSilenceAndNoiseAreUnvoiced() {
        let p = PitchEstimator()
        let silence = [Float](repeating: 0, count: 4800)
        for e in estimates(p, silence) {
            XCTAssertEqual(e, .unvoiced)
            XCTAssertEqual(e.logF0Feature, 0)
        }
        var rng = TestRNG(seed: 3)
        let noise = (0..<24000).map { _ in Float(0.3 * rng.normal()) }
        let est = estimates(p, noise)
        let voiced = est.filter { $0.voicing > 0 }.count
        print("PitchEstimator on white noise: \(voiced)/\(est.count) frames voiced")
        XCTAssertLessThanOrEqual(voiced, est.count / 20)
    }

    /// The Python reference on the synthetic test signal and on real speech (a low male voice, then
    /// a female one: voicing onsets, the pitch track's octave choices), pushed in odd-sized blocks.
    func testFeaturesMatchPythonReference() throws {
        for (audioFile, pitchFile, block) in [("dsp_audio.npy", "dsp_pitch.npy", 36000), ("dsp_speech.npy", "dsp_speech_pitch.npy", 173)] {
            let audio = try NPYArray.load(audioFile).values
            let ref = try NPYArray.load(pitchFile)
            let frames = ref.shape[1]
            let p = PitchEstimator()
            let est = estimates(p, audio, block: block)
            let n = est.count
            let feats = est.flatMap { [$0.logF0Feature, $0.voicing] }
            XCTAssertEqual(n, frames)
            var agree = 0, voiced = 0, maxF0Diff = 0.0, maxVoicingDiff: Float = 0
            for t in 0..<frames {
                let rv = ref.values[frames + t], sv = feats[2 * t + 1]
                if rv > 0 { voiced += 1 }
                if (rv > 0) == (sv > 0) { agree += 1 } else { print("\(pitchFile) DISAGREE frame \(t): reference voicing \(rv), swift \(sv)") }
                let rf = Double(ref.values[t]), sf = Double(feats[2 * t])
                // The reference does not refine a lag at the edge of the search range (F0 exactly
                // f0_max or f0_min); the engine does (documented on PitchEstimator): skip those frames.
                let referenceF0 = TMRVCConstants.Pitch.f0RefHz * pow(2, rf)
                let atEdge = abs(referenceF0 / TMRVCConstants.Pitch.f0MaxHz - 1) < 1e-6
                    || abs(referenceF0 / TMRVCConstants.Pitch.f0MinHz - 1) < 1e-6
                if rv > 0 && sv > 0 && !atEdge {
                    let diff = abs(pow(2, sf - rf) - 1)
                    if diff > 1e-3 { print("\(pitchFile) frame \(t): reference f0 \(200 * pow(2, rf)) Hz, swift \(200 * pow(2, sf)) Hz") }
                    maxF0Diff = max(maxF0Diff, diff)
                    maxVoicingDiff = max(maxVoicingDiff, abs(rv - sv))
                }
            }
            print("PitchEstimator vs tmrvc.pitch on \(audioFile): voicing decision agrees on \(agree)/\(frames) frames " +
                  "(\(voiced) voiced); voiced-in-both max relative F0 difference \(maxF0Diff), max voicing difference \(maxVoicingDiff)")
            XCTAssertGreaterThan(voiced, frames / 4, audioFile)
            XCTAssertGreaterThanOrEqual(agree, frames - 2, audioFile)
            XCTAssertLessThan(maxF0Diff, 1e-3, audioFile)
            XCTAssertLessThan(maxVoicingDiff, 1e-3, audioFile)
        }
    }
}
