import Foundation
import XCTest
import TMRVCConstants
@testable import TMRVCDSP

/// ExcitationGenerator and RegisterMap against `tmrvc.excitation` (the numpy reference) and their
/// own properties.
final class ExcitationGeneratorTests: XCTestCase {
    static let bins = ExcitationGenerator.binCount
    static let hop = ExcitationGenerator.hopLength

    /// Fixture written by `python -m tmrvc.excitation --fixtures`: per hop (row) f0_hz, E_h real[241],
    /// E_h imag[241], E_n real[241], E_n imag[241], source log2(f0/200), register-mapped (target mean
    /// 0.3, std 0.12, shift +1.5 semitones).
    func testMatchesPythonReference() throws {
        let ref = try NPYArray.load("excitation_reference.npy")
        let bins = Self.bins
        XCTAssertEqual(ref.shape.count, 2)
        let rows = ref.shape[0], cols = ref.shape[1]
        XCTAssertEqual(cols, 1 + 4 * bins + 2)
        // The F0 track is stored exactly (write_fixtures rounds it to float32 before generating): the
        // harmonic phase integrates it over the whole stream, so an F0 off by 1e-8 relative would
        // move the 52 Hz pulses (211 harmonics) by ~1e-3 of their peak.
        let g = ExcitationGenerator()
        var errH: Float = 0, errN: Float = 0, peakH: Float = 0, peakN: Float = 0
        var worstHop = 0
        for t in 0..<rows {
            let row = Array(ref.values[(t * cols)..<((t + 1) * cols)])
            g.step(f0Hz: Double(row[0]))
            let eh = g.harmonicSpectrum, en = g.noiseSpectrum
            for k in 0..<bins {
                let hr = row[1 + k], hi = row[1 + bins + k], nr = row[1 + 2 * bins + k], ni = row[1 + 3 * bins + k]
                let dh = max(abs(eh[2 * k] - hr), abs(eh[2 * k + 1] - hi))
                if dh > errH { errH = dh; worstHop = t }
                errN = max(errN, abs(en[2 * k] - nr), abs(en[2 * k + 1] - ni))
                peakH = max(peakH, abs(hr), abs(hi))
                peakN = max(peakN, abs(nr), abs(ni))
            }
        }
        print("ExcitationGenerator vs tmrvc.excitation.Excitation (\(rows) hops): harmonic max abs error \(errH) = \(errH / peakH) x max|E_h| \(peakH) (worst hop \(worstHop)); noise \(errN) = \(errN / peakN) x max|E_n| \(peakN)")
        XCTAssertGreaterThan(peakH, 1)
        XCTAssertLessThanOrEqual(errH, 1e-5 * peakH)
        XCTAssertLessThanOrEqual(errN, 1e-5 * peakN)

        // Register mapping of the same track.
        var map = RegisterMap(targetMean: 0.3, targetStd: 0.12)
        var errMap = 0.0
        for t in 0..<rows {
            let f0 = ref.values[t * cols], x = ref.values[t * cols + cols - 2], expected = ref.values[t * cols + cols - 1]
            let y = map.map(logF0: x, voiced: f0 > 0, shiftSemitones: 1.5)
            errMap = max(errMap, abs(Double(y) - Double(expected)))
        }
        print("RegisterMap vs tmrvc.excitation.RegisterMap: max abs error \(errMap)")
        XCTAssertLessThanOrEqual(errMap, 1e-6)
    }

    /// Noise samples and the hash against values computed with the reference (`tmrvc.excitation.noise`,
    /// `lowbias32`), including the counter's 32-bit wrap.
    func testNoiseIsTheCounterHash() {
        XCTAssertEqual([0, 1, 2, 0xDEAD_BEEF].map(ExcitationGenerator.lowbias32), [0, 0x6889_90C0, 0xD113_2181, 0xE628_C683])
        let expected: [(Int, Double)] = [(0, 0.010460721261961702), (1, 0.05913797999022483), (2, -1.264202415178427),
                                         (123_456_789, -1.5766497451455304), ((1 << 32) - 1, -1.0321421860043487),
                                         (1 << 32, 0.010460721261961702)]
        for (n, v) in expected { XCTAssertEqual(ExcitationGenerator.noiseSample(n), v, "noise sample \(n)") }
        // Unit variance, zero mean over a long run.
        var s = 0.0, s2 = 0.0
        let count = 1 << 18
        for i in 0..<count { let v = ExcitationGenerator.noiseSample(i); s += v; s2 += v * v }
        XCTAssertEqual(s / Double(count), 0, accuracy: 0.01)
        XCTAssertEqual(s2 / Double(count), 1, accuracy: 0.01)
    }

    /// With H = N = 1 the overlap-add output is e_h + e_n delayed by one hop (perfect reconstruction of
    /// the synthesis window), plus `hann * prefix` over the hop before each voicing onset (the onset
    /// prefix that voices an onset's frame retroactively), for a voiced track with a gap.
    func testUnitFilterReproducesTheExcitationDelayedByOneHop() {
        let hop = Self.hop, bins = Self.bins, hops = 60
        let f0: [Double] = (0..<hops).map { t in (20..<28).contains(t) ? 0 : 120 + 2 * Double(t) }
        // The excitation signals, sample by sample (an independent evaluation of the specification),
        // already delayed by one hop as the output is.
        let sr = ExcitationGenerator.sampleRate, ramp = Double(TMRVCConstants.Excitation.voicingRampSamples)
        var expected = [Double](repeating: 0, count: (hops + 1) * hop)
        var phase = 0.0, fEnd = 0.0, gEnd = 0.0
        var onsets = 0
        for t in 0..<hops {
            let voiced = f0[t] > 0
            let onset = voiced && gEnd == 0, offset = !voiced && gEnd > 0
            let f1 = voiced ? f0[t] : fEnd
            let fs = onset ? f1 : fEnd
            if onset {
                onsets += 1
                for m in 0..<hop {   // the prefix, weighted by the first half of the frame's window squared
                    let phi = phase - Double(hop - 1 - m) * (2 * Double.pi * f1 / sr)
                    let hann = 0.5 - 0.5 * cos(2 * Double.pi * Double(m) / Double(2 * hop))
                    expected[t * hop + m] += hann * ExcitationGenerator.harmonicSample(phi: phi, frequency: f1, gain: min(1, Double(m + 1) / ramp))
                }
            }
            var phi = phase
            for i in 0..<hop {
                let f = fs + (f1 - fs) * Double(i + 1) / Double(hop)
                let g = voiced ? 1 : (offset ? max(0, 1 - Double(i + 1) / ramp) : 0)
                phi += 2 * Double.pi * f / sr
                let h = f > 0 && g > 0 ? ExcitationGenerator.harmonicSample(phi: phi, frequency: f, gain: g) : 0
                expected[(t + 1) * hop + i] += h + ExcitationGenerator.noiseSample(t * hop + i)
            }
            phase = fmod(phi, 2 * Double.pi)
            fEnd = f1
            gEnd = voiced ? 1 : 0
        }
        XCTAssertEqual(onsets, 2)
        let g = ExcitationGenerator(), syn = OverlapAddSynthesizer()
        let ones = [Float](repeating: 1, count: bins)
        var re = [Float](repeating: 0, count: bins), im = [Float](repeating: 0, count: bins)
        var y = [Float](repeating: 0, count: hops * hop)
        for t in 0..<hops {
            g.step(f0Hz: f0[t])
            g.shape(harmonic: ones, noise: ones, real: &re, imaginary: &im)
            y.withUnsafeMutableBufferPointer { syn.synthesize(real: re, imaginary: im, output: $0.baseAddress! + t * hop) }
        }
        var err = 0.0, peak = 0.0
        for i in 0..<(hops * hop) {
            let e = expected[i]
            err = max(err, abs(Double(y[i]) - e))
            peak = max(peak, abs(e))
        }
        print("ExcitationGenerator + OverlapAddSynthesizer with H = N = 1: max abs error \(err) (peak \(peak)) against e_h + e_n delayed by \(hop) plus the onset prefixes")
        XCTAssertLessThan(err, 1e-5 * peak)
    }

    /// Unvoiced-only input: a zero harmonic spectrum on every hop (and non-zero noise).
    func testUnvoicedInputHasNoHarmonicSpectrum() {
        let g = ExcitationGenerator()
        for _ in 0..<20 {
            g.step(f0Hz: 0)
            var h: Float = 0, n: Float = 0
            for i in 0..<(2 * Self.bins) { h = max(h, abs(g.harmonicSpectrum[i])); n = max(n, abs(g.noiseSpectrum[i])) }
            XCTAssertEqual(h, 0)
            XCTAssertGreaterThan(n, 1)
        }
    }

    /// At 990 Hz (near pitch.f0_max_hz) only harmonics up to the 11 kHz cutoff exist: no partial
    /// folds back from above Nyquist. A long steady tone is analysed with a Blackman-Harris window;
    /// the energy between the partials (where aliases would land) stays below -80 dB of the total.
    func testHighF0IsBandLimited() {
        let f0 = 990.0, hop = Self.hop, hops = 200
        let sr = ExcitationGenerator.sampleRate
        let g = ExcitationGenerator(), syn = OverlapAddSynthesizer()
        let ones = [Float](repeating: 1, count: Self.bins), zeros = [Float](repeating: 0, count: Self.bins)
        var re = [Float](repeating: 0, count: Self.bins), im = [Float](repeating: 0, count: Self.bins)
        var y = [Float](repeating: 0, count: hops * hop)
        for t in 0..<hops {
            g.step(f0Hz: f0)
            g.shape(harmonic: ones, noise: zeros, real: &re, imaginary: &im)
            y.withUnsafeMutableBufferPointer { syn.synthesize(real: re, imaginary: im, output: $0.baseAddress! + t * hop) }
        }
        // 8192-sample Blackman-Harris DFT of the steady part, evaluated at 0.5 Hz resolution near the
        // inter-harmonic midpoints and at the partials.
        let len = 8192, start = 40 * hop
        var w = [Double](repeating: 0, count: len)
        for i in 0..<len {
            let a = 2 * Double.pi * Double(i) / Double(len - 1)
            w[i] = 0.35875 - 0.48829 * cos(a) + 0.14128 * cos(2 * a) - 0.01168 * cos(3 * a)
        }
        func power(_ hz: Double) -> Double {
            var c = 0.0, s = 0.0
            let omega = 2 * Double.pi * hz / sr
            for i in 0..<len {
                let v = Double(y[start + i]) * w[i]
                c += v * cos(omega * Double(i)); s += v * sin(omega * Double(i))
            }
            return c * c + s * s
        }
        let partials = Int(ExcitationGenerator.harmonicCutoffHz / f0)   // 11 below the cutoff
        var total = 0.0
        for k in 1...partials { total += power(Double(k) * f0) }
        // Where the 12th..13th harmonics would alias: 24000 - 12*990 = 12120 -> folded to 11880 Hz, etc.
        // Check every midpoint between partials and the band above the last one.
        var worst = 0.0
        var probes: [Double] = (0..<partials).map { (Double($0) + 0.5) * f0 }
        probes += [11_500, 11_880, 11_000 + 0.5 * f0, 11_900, 10_950 + f0 / 3]
        for k in 12...13 { probes.append(sr - Double(k) * f0) }   // folded frequencies of harmonics 12, 13
        for hz in probes where hz > 0 && hz < sr / 2 {
            // skip probes within 3 bins (3 * sr / len ≈ 9 Hz) of a genuine partial
            if abs(hz / f0 - (hz / f0).rounded()) * f0 < 9 { continue }
            worst = max(worst, power(hz))
        }
        let db = 10 * log10(max(worst, 1e-300) / total)
        print("ExcitationGenerator at 990 Hz: \(partials) partials, strongest inter-partial / aliasing probe \(db) dB below the partials' total")
        XCTAssertLessThan(db, -80)
        // And the 11th partial is really there (the sum is not trivially quiet).
        XCTAssertGreaterThan(power(Double(partials) * f0) / total, 1e-3)
    }

    /// reset() restarts the stream and copyState(from:) continues another generator exactly.
    func testResetAndCopyState() {
        let a = ExcitationGenerator(), b = ExcitationGenerator()
        let track: [Double] = [0, 0, 150, 155, 0, 0, 300, 290, 280, 0, 100]
        var first: [[Float]] = []
        for f in track {
            a.step(f0Hz: f)
            first.append(Array(UnsafeBufferPointer(start: a.harmonicSpectrum, count: 2 * Self.bins))
                         + Array(UnsafeBufferPointer(start: a.noiseSpectrum, count: 2 * Self.bins)))
        }
        a.reset()
        for (t, f) in track.enumerated() {
            a.step(f0Hz: f)
            if t == 5 { b.copyState(from: a) }
            if t > 5 { b.step(f0Hz: f) }
            let now = Array(UnsafeBufferPointer(start: a.harmonicSpectrum, count: 2 * Self.bins))
                + Array(UnsafeBufferPointer(start: a.noiseSpectrum, count: 2 * Self.bins))
            XCTAssertEqual(now, first[t], "hop \(t) after reset")
            if t >= 5 {
                let other = Array(UnsafeBufferPointer(start: b.harmonicSpectrum, count: 2 * Self.bins))
                    + Array(UnsafeBufferPointer(start: b.noiseSpectrum, count: 2 * Self.bins))
                XCTAssertEqual(other, first[t], "hop \(t) of the copy")
            }
        }
    }

    /// RegisterMap properties: unvoiced -> 0, shift only without a target (or applyTarget false),
    /// the std ratio clamped, reset back to the prior.
    func testRegisterMapBasics() {
        var m = RegisterMap()
        XCTAssertEqual(m.map(0.4, voiced: false, shiftSemitones: 12), 0)
        XCTAssertEqual(m.map(0.4, voiced: true, shiftSemitones: 12), 1.4, accuracy: 1e-12)
        var t = RegisterMap(targetMean: -0.5, targetStd: 0.1)
        // A constant source: its variance decays and the ratio saturates at the maximum.
        var y = 0.0
        for _ in 0..<30_000 { y = t.map(0.2, voiced: true) }   // forgets the prior at 1/1000 per frame
        XCTAssertEqual(t.mean, 0.2, accuracy: 1e-6)
        XCTAssertEqual(y, -0.5, accuracy: 1e-6)
        XCTAssertEqual(t.map(0.3, voiced: true, applyTarget: false), 0.3, accuracy: 1e-12)
        let before = t
        _ = t.map(0.3, voiced: false)
        XCTAssertEqual(t, before, "unvoiced frames leave the statistics alone")
        t.reset()
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(t.mean, RegisterMap.priorMean)
        XCTAssertEqual(t.variance, RegisterMap.priorVariance)
        XCTAssertTrue(t.hasTarget)
        // First voiced frame at the prior mean maps onto the target mean (+ shift).
        XCTAssertEqual(t.map(RegisterMap.priorMean, voiced: true, shiftSemitones: 6), -0.5 + 0.5, accuracy: 1e-12)
    }

    /// Cost per hop (printed; the release figure is the one the documentation quotes). Thread CPU
    /// time (CLOCK_THREAD_CPUTIME_ID), best of 5 batches: on a shared machine wall-clock time counts
    /// the other jobs' time slices too.
    func testCostPerHop() {
        let g = ExcitationGenerator()
        for _ in 0..<50 { g.step(f0Hz: 130) }
        func cpuMicroseconds() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) * 1e6 + Double(ts.tv_nsec) / 1e3
        }
        func measure(_ f0: Double, _ reps: Int) -> Double {
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = cpuMicroseconds()
                for i in 0..<reps { g.step(f0Hz: f0 > 0 ? f0 + Double(i % 7) : 0) }
                best = min(best, (cpuMicroseconds() - t0) / Double(reps))
            }
            return best
        }
        #if DEBUG
        let reps = 200
        #else
        let reps = 5000
        #endif
        let voiced = measure(130, reps), high = measure(52, reps)
        for _ in 0..<3 { g.step(f0Hz: 0) }
        let unvoiced = measure(0, reps)
        print("ExcitationGenerator.step (thread CPU time): \(voiced) µs per voiced hop (130 Hz), \(high) µs (52 Hz), \(unvoiced) µs per unvoiced hop (best of 5 × \(reps))")
    }
}
