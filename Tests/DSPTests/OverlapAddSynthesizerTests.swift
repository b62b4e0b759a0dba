import XCTest
import TMRVCConstants
@testable import TMRVCDSP

final class OverlapAddSynthesizerTests: XCTestCase {
    func testMatchesPythonIstftOla() throws {
        let mag = try NPYArray.load("dsp_ola_mag.npy")
        let phase = try NPYArray.load("dsp_ola_phase.npy")
        let ref = try NPYArray.load("dsp_ola_out.npy").values
        let bins = OverlapAddSynthesizer.binCount, hop = OverlapAddSynthesizer.hopLength
        XCTAssertEqual(mag.shape[0], bins)
        let frames = mag.shape[1]
        let syn = OverlapAddSynthesizer()
        var m = [Float](repeating: 0, count: bins), p = [Float](repeating: 0, count: bins)
        var out = [Float](repeating: 0, count: frames * hop)
        for t in 0..<frames {
            for k in 0..<bins {
                m[k] = mag.values[k * frames + t]
                p[k] = phase.values[k * frames + t]
            }
            out.withUnsafeMutableBufferPointer { o in
                syn.synthesize(magnitude: m, phase: p, output: o.baseAddress! + t * hop)
            }
        }
        var maxErr: Float = 0, peak: Float = 0
        for i in 0..<out.count {
            maxErr = max(maxErr, abs(out[i] - ref[i]))
            peak = max(peak, abs(ref[i]))
        }
        print("OverlapAddSynthesizer vs frontend.istft_ola: max abs error \(maxErr) (signal peak \(peak))")
        XCTAssertLessThan(maxErr, 1e-5)
    }

    /// Analysis as `frontend.vocoder_analysis` (sqrt-Hann, frame t = x[t*240-240 ..< t*240+240]), then
    /// synthesis: the output is the input delayed by one hop.
    func testPerfectReconstruction() {
        let n = TMRVCConstants.Vocoder.nFft, hop = TMRVCConstants.Vocoder.hopLength, bins = n / 2 + 1
        var rng = TestRNG(seed: 7)
        let count = 100 * hop
        var x = [Float](repeating: 0, count: count)
        for i in 0..<count { x[i] = Float(0.5 * rng.normal()) * Float(0.5 + 0.5 * sin(Double(i) * 0.001)) }
        let fft = RealFFT(n: n, rigor: .estimate)
        var win = [Float](repeating: 0, count: n)
        for i in 0..<n { win[i] = Float((0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))).squareRoot()) }
        let syn = OverlapAddSynthesizer()
        var mag = [Float](repeating: 0, count: bins), ph = [Float](repeating: 0, count: bins)
        var y = [Float](repeating: 0, count: count)
        for t in 0..<(count / hop) {
            for m in 0..<n {
                let idx = t * hop - hop + m
                fft.input.pointer[m] = (idx >= 0 && idx < count ? x[idx] : 0) * win[m]
            }
            fft.execute()
            for k in 0..<bins {
                let re = fft.output.pointer[2 * k], im = fft.output.pointer[2 * k + 1]
                mag[k] = (re * re + im * im).squareRoot()
                ph[k] = atan2f(im, re)
            }
            y.withUnsafeMutableBufferPointer { o in syn.synthesize(magnitude: mag, phase: ph, output: o.baseAddress! + t * hop) }
        }
        var maxErr: Float = 0
        for i in 0..<count {
            let expected: Float = i >= hop ? x[i - hop] : 0
            maxErr = max(maxErr, abs(y[i] - expected))
        }
        print("OverlapAddSynthesizer perfect reconstruction (delay \(hop)): max abs error \(maxErr)")
        XCTAssertLessThan(maxErr, 1e-5)

        // Same through the real/imaginary entry point, and reset() restores the initial state.
        syn.reset()
        var re = [Float](repeating: 0, count: bins), im = [Float](repeating: 0, count: bins)
        var block = [Float](repeating: 1, count: hop)
        syn.synthesize(real: &re, imaginary: &im, output: &block)
        XCTAssertEqual(block, [Float](repeating: 0, count: hop))
        re[0] = Float(n)   // DC of a constant 1 before windowing
        syn.synthesize(real: re, imaginary: im, output: &block)
        syn.synthesize(real: re, imaginary: im, output: &block)
        // steady state: sum of the two half windows = s[m] + s[m+240] (not 1: constant spectrum, no analysis window)
        for i in 0..<hop {
            let s0 = (0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))).squareRoot()
            let s1 = (0.5 - 0.5 * cos(2 * Double.pi * Double(i + hop) / Double(n))).squareRoot()
            XCTAssertEqual(Double(block[i]), s0 + s1, accuracy: 1e-5)
        }
    }
}
