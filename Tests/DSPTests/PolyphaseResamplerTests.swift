import XCTest
import TMRVCConstants
@testable import TMRVCDSP

final class PolyphaseResamplerTests: XCTestCase {
    static let conversions: [(Int, Int)] = {
        var c = [(Int, Int)]()
        for host in TMRVCConstants.Audio.hostSampleRates {
            c.append((host, TMRVCConstants.Audio.sampleRate))
            c.append((TMRVCConstants.Audio.sampleRate, host))
        }
        return c
    }()

    /// Asserted limits (the designs reach them with margin; measured values are printed).
    static let maxPassbandRippleDB = 0.002
    static let minStopbandAttenuationDB = 88.0
    static let passbandEdge = 10_000.0
    static let stopbandEdge = 12_000.0

    private func run(_ r: PolyphaseResampler, _ x: [Float], blocks: [Int]) -> [Float] {
        var y = [Float]()
        y.reserveCapacity(r.maxOutputCount(forInputCount: x.count) + 2)
        var tmp = [Float](repeating: 0, count: r.maxOutputCount(forInputCount: x.count) + 1)
        var i = 0, b = 0
        x.withUnsafeBufferPointer { xp in
            while i < x.count {
                let n = min(blocks[b % blocks.count], x.count - i)
                b += 1
                let expected = r.outputCount(afterPushing: n)
                XCTAssertLessThanOrEqual(expected, r.maxOutputCount(forInputCount: n))
                let w = tmp.withUnsafeMutableBufferPointer { t in
                    r.process(xp.baseAddress! + i, count: n, output: t.baseAddress!, outputCapacity: t.count)
                }
                XCTAssertEqual(w, expected)
                y.append(contentsOf: tmp[0..<w])
                i += n
            }
        }
        return y
    }

    func testBlockPartitionGivesIdenticalOutput() {
        var rng = TestRNG(seed: 42)
        let x = (0..<9000).map { _ in Float(rng.uniform(-1, 1)) }
        for (fin, fout) in Self.conversions {
            let r = PolyphaseResampler(inputRate: fin, outputRate: fout)
            let whole = run(r, x, blocks: [x.count])
            XCTAssertEqual(whole.count, (x.count * r.upFactor + r.downFactor - 1) / r.downFactor)
            for blocks in [[1], [2, 3], [147], [160, 1, 0, 333], [512], (0..<50).map { _ in Int(rng.uniform(0, 700)) }] {
                r.reset()
                let parts = run(r, x, blocks: blocks.map { $0 })
                XCTAssertEqual(parts, whole, "\(fin)->\(fout) blocks \(blocks.prefix(6))")
            }
        }
    }

    /// Sine sweeps: passband gain/phase (group delay), stopband alias/image level.
    func testFrequencyResponseBySineSweeps() {
        for (fin, fout) in Self.conversions {
            let r = PolyphaseResampler(inputRate: fin, outputRate: fout)
            let amp = 0.5
            let inLen = 4000
            func tone(_ f: Double) -> [Float] {
                r.reset()
                let x = (0..<inLen).map { Float(amp * sin(2 * Double.pi * f * Double($0) / Double(fin))) }
                return run(r, x, blocks: [inLen])
            }
            let start = Int(2 * r.groupDelayOutputSamples.rounded(.up)) + 16
            var ripple = 0.0, maxPhaseErr = 0.0
            for f in stride(from: 100.0, through: Self.passbandEdge, by: 100) {
                let y = tone(f)
                let w = 2 * Double.pi * f / Double(fout)
                let fit = fitSinusoid(y, omega: w, start: start, end: y.count)
                ripple = max(ripple, abs(20 * log10(fit.amplitude / amp)))
                var d = fit.phase - (-w * r.groupDelayOutputSamples)
                d = atan2(sin(d), cos(d))
                maxPhaseErr = max(maxPhaseErr, abs(d))
            }
            var worstStop = 0.0   // largest alias/image level relative to the input (linear)
            if fout < fin {
                // every output component is an alias of a tone above the stopband edge
                for f in stride(from: Self.stopbandEdge + 50, to: Double(fin) / 2, by: 150) {
                    let y = tone(f)
                    worstStop = max(worstStop, rms(y, start, y.count) * 2.0.squareRoot() / amp)
                }
            } else {
                // tone below the input Nyquist: everything but the tone itself is an image above 12 kHz
                for f in stride(from: 100.0, to: Self.stopbandEdge, by: 150) {
                    var y = tone(f)
                    let w = 2 * Double.pi * f / Double(fout)
                    let fit = fitSinusoid(y, omega: w, start: start, end: y.count)
                    for m in 0..<y.count { y[m] -= Float(fit.amplitude * sin(w * Double(m) + fit.phase)) }
                    worstStop = max(worstStop, rms(y, start, y.count) * 2.0.squareRoot() / amp)
                }
            }
            let atten = -20 * log10(worstStop)
            print("Resampler \(fin)->\(fout): L/M \(r.upFactor)/\(r.downFactor), taps \(r.tapCount), taps/phase \(r.tapsPerPhase), " +
                  "group delay \(r.groupDelayInputSamples) in = \(r.groupDelayOutputSamples) out samples " +
                  "(\(r.groupDelaySeconds * 1000) ms); swept passband (<=10 kHz) ripple \(ripple) dB, " +
                  "phase error \(maxPhaseErr) rad; swept stopband (>=12 kHz) attenuation \(atten) dB")
            XCTAssertLessThan(ripple, Self.maxPassbandRippleDB, "\(fin)->\(fout)")
            XCTAssertLessThan(maxPhaseErr, 1e-4, "\(fin)->\(fout): group delay mismatch")
            XCTAssertGreaterThan(atten, Self.minStopbandAttenuationDB, "\(fin)->\(fout)")
        }
    }

    /// The prototype's DTFT (zero-padded FFT) over the whole band: passband ripple and stopband.
    func testPrototypeResponse() {
        for (fin, fout) in Self.conversions where fin > fout {
            let r = PolyphaseResampler(inputRate: fin, outputRate: fout)
            let fs = Double(fin * r.upFactor)
            var n = 1
            while Double(n) < fs / 4 || n < 16 * r.tapCount { n <<= 1 }   // <= 4 Hz bins
            let fft = RealFFT(n: n, rigor: .estimate)
            for k in 0..<r.tapCount { fft.input.pointer[k] = Float(r.prototype[k] / Double(r.upFactor)) }
            fft.execute()
            var ripple = 0.0, stop = 0.0
            for k in 0...(n / 2) {
                let f = Double(k) * fs / Double(n)
                let re = Double(fft.output.pointer[2 * k]), im = Double(fft.output.pointer[2 * k + 1])
                let mag = (re * re + im * im).squareRoot()
                if f <= Self.passbandEdge { ripple = max(ripple, abs(20 * log10(mag))) }
                if f >= Self.stopbandEdge { stop = max(stop, mag) }
            }
            print("Resampler prototype \(fin)<->\(fout) (\(r.tapCount) taps at \(Int(fs)) Hz): " +
                  "passband ripple \(ripple) dB, stopband attenuation \(-20 * log10(stop)) dB")
            XCTAssertLessThan(ripple, Self.maxPassbandRippleDB)
            XCTAssertGreaterThan(-20 * log10(stop), Self.minStopbandAttenuationDB)
        }
    }

    func testGroupDelaysAreIntegerAtTwentyFourKilohertz() {
        for (fin, fout) in Self.conversions {
            let r = PolyphaseResampler(inputRate: fin, outputRate: fout)
            let at24k = fin == 24000 ? r.groupDelayInputSamples : r.groupDelayOutputSamples
            XCTAssertEqual(at24k, at24k.rounded(), "\(fin)->\(fout)")
        }
    }

    func testEqualRatesPassThrough() {
        let r = PolyphaseResampler(inputRate: 24000, outputRate: 24000)
        XCTAssertEqual(r.groupDelayInputSamples, 0)
        let x: [Float] = [1, 2, 3, 4, 5]
        XCTAssertEqual(run(r, x, blocks: [2]), x)
    }
}
