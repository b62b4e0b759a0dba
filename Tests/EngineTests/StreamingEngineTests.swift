import Foundation
import Synchronization
import XCTest
import TestSupport
import TMRVCConstants
import TMRVCDSP
@testable import TMRVCEngine

final class StreamingEngineTests: XCTestCase {
    static let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("weights").path

    /// An engine for these tests. The overload control is off unless asked for: it reacts to
    /// wall-clock time, so on a loaded machine (a debug build, other jobs) it would lower the
    /// quality by itself and change what the other tests measure.
    func engine(_ mode: StreamingEngine.Mode, rate: Int, q: Float = 0, block: Int = 512,
                overloadControl: Bool = false) throws -> StreamingEngine {
        let e = try StreamingEngine(modelsDirectory: Self.weights)
        e.overloadControlEnabled = overloadControl
        e.mode = mode
        e.parameters.quality = q
        e.parameters.gateThresholdDB = -120
        try e.prepare(sampleRate: rate, maxBlockSize: block)
        return e
    }

    /// A band-limited chirp with a noise-like envelope, so the cross-correlation has one clear peak.
    func probe(rate: Int, seconds: Double) -> [Float] {
        let n = Int(Double(rate) * seconds)
        return (0..<n).map { i in
            let t = Double(i) / Double(rate)
            let f = 150 + 6000 * t / seconds
            let env = 0.5 + 0.4 * sin(2 * .pi * 3.1 * t) * sin(2 * .pi * 0.7 * t)
            return Float(0.4 * env * sin(2 * .pi * f * t * 0.5))
        }
    }

    func run(_ e: StreamingEngine, _ x: [Float], blocks: [Int]) -> [Float] { e.process(x, blocks: blocks) }

    /// Lag maximising the cross-correlation of y against x, searched in 0..<maxLag.
    func measuredDelay(_ x: [Float], _ y: [Float], maxLag: Int) -> (lag: Int, correlation: Double) {
        var best = (0, -Double.infinity)
        let n = x.count - maxLag
        for lag in 0..<maxLag {
            var s = 0.0, ex = 0.0, ey = 0.0
            for i in stride(from: 0, to: n, by: 1) {
                let a = Double(x[i]), b = Double(y[i + lag])
                s += a * b; ex += a * a; ey += b * b
            }
            let c = s / max(1e-12, sqrt(ex * ey))
            if c > best.1 { best = (lag, c) }
        }
        return best
    }

    func testMeasuredLatencyEqualsReportedAtEveryRateAndQuality() throws {
        for rate in [48000, 44100, 24000] {
            for q: Float in [0, 0.5, 1] {
                let e = try engine(.resynthesis, rate: rate, q: q)
                let x = probe(rate: rate, seconds: 0.6)
                let y = run(e, x, blocks: [512])
                let reported = e.latencySamples
                let (lag, c) = measuredDelay(x, y, maxLag: reported + 200)
                let expectedMs = 20 + 10 * Double(e.currentProfile.lookaheadHops)
                print("rate \(rate) q \(q): reported \(reported) samples (\(String(format: "%.3f", 1000 * Double(reported) / Double(rate))) ms, algorithmic \(expectedMs) ms), measured \(lag), correlation \(String(format: "%.5f", c))")
                XCTAssertLessThanOrEqual(abs(lag - reported), 1, "rate \(rate) q \(q)")
                // At 44.1 kHz the true delay is fractional (x.625 samples), which caps the
                // correlation at an integer lag below 1 for the chirp's high end.
                XCTAssertGreaterThan(c, rate == 44100 ? 0.975 : 0.999, "resynthesis must reproduce the input (rate \(rate) q \(q))")
            }
        }
    }

    func testOutputIsIdenticalWhateverTheBlockPartition() throws {
        let x = probe(rate: 48000, seconds: 0.5)
        let speaker = try SpeakerProfile(contentsOf: Self.weights + "/speakers/flite_rms.tmrvc_speaker")
        let ea = try engine(.convert, rate: 48000, block: 4096), eb = try engine(.convert, rate: 48000, block: 4096)
        ea.setSpeaker(speaker)
        eb.setSpeaker(speaker)
        let a = run(ea, x, blocks: [512])
        let b = run(eb, x, blocks: [1, 7, 4096, 33, 240, 1000, 2, 481])
        XCTAssertEqual(a.count, b.count)
        XCTAssertTrue(a == b, "outputs differ between block partitions")
        // The first speaker arriving through the mailbox fades in at a position that is a
        // function of the hop, not of the blocks; without a speaker the output is dry.
        let ec = try engine(.convert, rate: 48000, block: 4096), ed = try engine(.convert, rate: 48000, block: 4096)
        ec.post(speaker)
        ed.post(speaker)
        let c = run(ec, x, blocks: [4096]), d = run(ed, x, blocks: [3, 480, 77, 1024])
        XCTAssertTrue(c == d, "a posted first speaker must start at the same sample whatever the blocks")
        XCTAssertEqual(ec.speakerGeneration, 1)
        let dry = run(try engine(.convert, rate: 48000, block: 4096), x, blocks: [700])
        XCTAssertTrue(dry.allSatisfy(\.isFinite))
        XCTAssertFalse(dry == a)
        XCTAssertGreaterThan(a.map { abs($0) }.max()!, 0, "the converted output must not be silent")
        XCTAssertTrue(a.allSatisfy(\.isFinite))
    }

    func testQualityChangeCrossfadesWithoutClicks() throws {
        let rate = 48000
        let e = try engine(.resynthesis, rate: rate, q: 0)
        let x = (0..<(rate * 2 / 3)).map { Float(0.5 * sin(2 * Double.pi * 220 * Double($0) / Double(rate))) }
        var y: [Float] = []
        let half = x.count / 2
        y += run(e, Array(x[..<half]), blocks: [256])
        let before = e.latencySamples
        e.parameters.quality = 1
        y += run(e, Array(x[half...]), blocks: [256])
        XCTAssertEqual(e.statistics.crossfades, 1)
        XCTAssertGreaterThan(e.latencySamples, before)
        let signalStep = zip(x.dropFirst(), x).map { abs($0 - $1) }.max()!
        let settled = Array(y[before...])
        let outputStep = zip(settled.dropFirst(), settled).map { abs($0 - $1) }.max()!
        print("max step: input \(signalStep), output \(outputStep)")
        XCTAssertLessThanOrEqual(outputStep, signalStep * 1.05 + 1e-3, "click at the quality switch")
    }

    func testSpeakerHotSwapFromAnotherThread() throws {
        let e = try engine(.convert, rate: 48000)
        e.setSpeaker(try SpeakerProfile(contentsOf: Self.weights + "/speakers/flite_rms.tmrvc_speaker"))
        let dir = NSTemporaryDirectory() + "tmrvc-engine-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.tmrvc_speaker"
        // An embedding of L2 norm 0.85 (inside the format's bounds).
        try SpeakerProfile(embedding: (0..<192).map { Float($0 % 5) / 40 }, loraDelta: [Float](repeating: 0.01, count: 4096),
                           voiceSourcePreset: [Float](repeating: 0.2, count: 8),
                           pitchStatistics: PitchStatistics(mean: 0.5, std: 0.1)).write(to: path)
        let x = probe(rate: 48000, seconds: 0.5)
        let loaded = expectation(description: "speaker loaded")
        let thread = Thread {
            do { try e.loadSpeaker(path: path) } catch { XCTFail("\(error)") }
            loaded.fulfill()
        }
        thread.start()
        var y: [Float] = []
        while e.speakerGeneration == 0 { y += run(e, Array(x[0..<480]), blocks: [480]) ; if y.count > 48000 * 3 { break } }
        wait(for: [loaded], timeout: 5)
        y += run(e, x, blocks: [480])
        XCTAssertEqual(e.speakerGeneration, 1)
        XCTAssertEqual(e.statistics.crossfades, 1)
        XCTAssertTrue(y.allSatisfy(\.isFinite))
        XCTAssertThrowsError(try e.loadSpeaker(path: dir + "/missing.tmrvc_speaker"))
    }

    /// Every control changes (in range, out of range and non-finite), speakers are posted and
    /// loaded, and latency, statistics and the speaker generation are read, each from its own
    /// thread, while audio runs in random block sizes (tools/test.sh also runs this under
    /// ThreadSanitizer). Nothing non-finite or above the limiter's ceiling comes out; the readers
    /// only see latencies of some quality profile and counters that never go back; once the
    /// controls stop, the engine is consistent: with wet 0 the output is the input delayed by
    /// exactly the reported latency. A debug build streams 0.3 s (a hop costs about 0.5 s there,
    /// more under the sanitizer); tools/test.sh's release step streams 3 s.
    func testEveryControlChangesWhileAudioRuns() throws {
        #if DEBUG
        let seconds = 0.3
        #else
        let seconds = 3.0
        #endif
        let rate = 48000, maxBlock = 1024
        let e = try engine(.convert, rate: rate, block: maxBlock)
        let a = try SpeakerProfile(contentsOf: Self.weights + "/speakers/flite_rms.tmrvc_speaker")
        let bPath = Self.weights + "/speakers/fest_ked.tmrvc_speaker"
        e.setSpeaker(a)
        // At 48 kHz each lookahead hop adds exactly 480 samples to the q = 0 latency.
        let valid = Set((0...StreamingEngine.maxLookahead).map { e.latencySamples + $0 * 480 })
        let stop = Atomic<Bool>(false), controlRounds = Atomic<Int>(0), posts = Atomic<Int>(0)
        let badLatency = Atomic<Int>(0), backwards = Atomic<Int>(0), reads = Atomic<Int>(0)
        let done = DispatchGroup()
        func spawn(_ body: @escaping @Sendable () -> Void) {
            done.enter()
            Thread { body(); done.leave() }.start()
        }
        spawn {
            var rng = SystemRandomNumberGenerator()
            let odd: [Float] = [.nan, .infinity, -.infinity, 1e9, -1e9]
            func pick(_ r: ClosedRange<Float>) -> Float {
                Int.random(in: 0..<8, using: &rng) == 0 ? odd.randomElement(using: &rng)! : .random(in: r, using: &rng)
            }
            while !stop.load(ordering: .relaxed) {
                e.parameters.quality = pick(0...1)
                e.parameters.pitchShiftSemitones = pick(-24...24)
                e.parameters.wet = pick(0...1)
                e.parameters.outputGainDB = pick(-60...24)
                e.parameters.voiceSourceAlpha = pick(0...1)
                e.parameters.gateThresholdDB = pick(-120...0)
                e.parameters.registerMode = Bool.random(using: &rng) ? .automatic : .shiftOnly
                controlRounds.add(1, ordering: .relaxed)
                usleep(300)
            }
        }
        spawn {
            while !stop.load(ordering: .relaxed) {
                e.post(a)
                usleep(15_000)
                do { try e.loadSpeaker(path: bPath) } catch { XCTFail("\(error)") }
                posts.add(2, ordering: .relaxed)
                usleep(15_000)
            }
        }
        spawn {
            var last = StreamingEngine.Statistics(), lastGeneration = 0
            while !stop.load(ordering: .relaxed) {
                if !valid.contains(e.latencySamples) { badLatency.add(1, ordering: .relaxed) }
                let s = e.statistics, g = e.speakerGeneration
                if s.hops < last.hops || s.crossfades < last.crossfades || s.limitedSamples < last.limitedSamples
                    || g < lastGeneration { backwards.add(1, ordering: .relaxed) }
                last = s
                lastGeneration = g
                reads.add(1, ordering: .relaxed)
                usleep(100)
            }
        }
        var rng = SystemRandomNumberGenerator()
        let x = probe(rate: rate, seconds: seconds)
        var y = [Float](repeating: 0, count: x.count)
        var pos = 0
        while pos < x.count {
            let n = min(Int.random(in: 1...maxBlock, using: &rng), x.count - pos)
            x.withUnsafeBufferPointer { xi in y.withUnsafeMutableBufferPointer { yo in
                e.process(input: xi.baseAddress! + pos, output: yo.baseAddress! + pos, frames: n)
            } }
            pos += n
        }
        stop.store(true, ordering: .relaxed)
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        let s = e.statistics
        print("while audio ran: \(controlRounds.load(ordering: .relaxed)) rounds of control changes, "
              + "\(posts.load(ordering: .relaxed)) speaker posts, \(reads.load(ordering: .relaxed)) reads; "
              + "\(s.hops) hops, \(s.crossfades) crossfades, speaker generation \(e.speakerGeneration), "
              + "\(s.limitedSamples) limited samples")
        XCTAssertTrue(y.allSatisfy { $0.isFinite && abs($0) <= Float(TMRVCConstants.Output.limiterThreshold) * (1 + 1e-6) })
        XCTAssertEqual(s.nonFiniteOutputSamples, 0)
        XCTAssertEqual(badLatency.load(ordering: .relaxed), 0, "a reader saw a latency of no quality profile")
        XCTAssertEqual(backwards.load(ordering: .relaxed), 0, "a counter went back")
        XCTAssertGreaterThan(controlRounds.load(ordering: .relaxed), 10)
        XCTAssertGreaterThan(reads.load(ordering: .relaxed), 10)
        XCTAssertGreaterThan(e.speakerGeneration, 0)
        XCTAssertGreaterThan(s.crossfades, 0)

        // Controls settled: wet 0, unity gain, no gate, q = 0.5. After the ramps and crossfades
        // (0.25 s: a crossfade under way finishes first), the output is the input delayed by the reported latency, sample for sample.
        e.parameters.wet = 0
        e.parameters.outputGainDB = 0
        e.parameters.gateThresholdDB = -120
        e.parameters.quality = 0.5
        _ = run(e, probe(rate: rate, seconds: 0.25), blocks: [maxBlock])
        let latency = e.latencySamples
        XCTAssertEqual(latency, valid.min()! + 480 * e.currentProfile.lookaheadHops)
        let x2 = probe(rate: rate, seconds: 0.1)
        let y2 = run(e, x2, blocks: [333, maxBlock, 17])
        let err = (0..<(x2.count - latency)).map { abs(y2[$0 + latency] - x2[$0]) }.max()!
        XCTAssertLessThanOrEqual(err, 1e-6, "dry path after the storm is not the input delayed by \(latency) samples")
    }

    func testOverloadLowersQualityWithoutDrift() throws {
        let rate = 48000
        let e = try engine(.resynthesis, rate: rate, q: 1, overloadControl: true)
        e.simulatedExtraHopCostMicroseconds = 7000
        let x = probe(rate: rate, seconds: 0.5)
        let first = run(e, x, blocks: [480])
        XCTAssertEqual(first.count, x.count)
        XCTAssertGreaterThan(e.statistics.overloadReductions, 0)
        XCTAssertLessThan(e.effectiveQuality, 1)
        e.simulatedExtraHopCostMicroseconds = 0
        // After the transition the delay matches the (new) reported latency: nothing accumulated.
        let y = run(e, x, blocks: [480])
        let (lag, c) = measuredDelay(x, y, maxLag: e.latencySamples + 200)
        XCTAssertLessThanOrEqual(abs(lag - e.latencySamples), 1)
        XCTAssertGreaterThan(c, 0.95)
        XCTAssertEqual(e.statistics.underruns, 0)
    }

    /// The overload control's hysteresis on synthetic hop times (10 ms budget): a hop above 60 %
    /// lowers the cap by 0.25 (at most every 50 hops); 300 hops below 40 % since the last slow hop
    /// raise it by 0.25; hops between 40 and 60 % neither count nor reset (a host whose normal hop
    /// costs 5 ms still gets its quality back); a slow hop during the cooldown resets the count.
    func testOverloadHysteresisOnSyntheticHopTimes() throws {
        let e = try engine(.resynthesis, rate: 48000, q: 1, overloadControl: true)
        func hops(_ n: Int, _ micros: Double) { for _ in 0..<n { e.controlOverload(hopMicroseconds: micros) } }
        hops(1, 7000)
        XCTAssertEqual(e.effectiveQuality, 0.75)
        hops(60, 5000)                 // moderate: neither counts nor resets; the cooldown runs out
        hops(299, 3000)
        XCTAssertEqual(e.effectiveQuality, 0.75)
        hops(1, 3000)                  // the 300th calm hop
        XCTAssertEqual(e.effectiveQuality, 1)
        hops(1, 7000)
        XCTAssertEqual(e.effectiveQuality, 0.75)
        hops(10, 1000)
        hops(1, 8000)                  // slow, within the 50-hop cooldown: no cut, the count starts again
        XCTAssertEqual(e.effectiveQuality, 0.75)
        hops(299, 1000)
        XCTAssertEqual(e.effectiveQuality, 0.75)
        hops(1, 1000)
        XCTAssertEqual(e.effectiveQuality, 1)
    }

    /// The output pitch: automatic mode moves a steady 120 Hz voice into a 240 Hz speaker's register,
    /// exactly as a RegisterMap fed with the engine's F0 estimates predicts (the running source
    /// statistics start at the 150 Hz prior, so after 0.6 s the map still sits below the target
    /// mean); shift-only mode keeps 120 Hz, plus the pitch shift; a speaker without pitch statistics
    /// falls back to the shift. The mode is set from another thread.
    func testRegisterModes() throws {
        let rate = 24000, hops = 60
        let x = (0..<(hops * 240)).map { i -> Float in
            let t = Double(i) / Double(rate)
            return Float(0.3 * sin(2 * .pi * 120 * t) + 0.1 * sin(2 * .pi * 240 * t + 0.3) + 0.05 * sin(2 * .pi * 360 * t))
        }
        var base = try SpeakerProfile(contentsOf: Self.weights + "/speakers/flite_rms.tmrvc_speaker")
        base.pitchStatistics = nil   // as a version-1 file
        var high = base
        high.pitchStatistics = PitchStatistics(mean: Float(log2(240.0 / 200)), std: 0.1)
        // What the engine should do at q = 0: its F0 window is the newest 960 samples of each hop.
        let estimator = PitchEstimator(windowLength: 960)
        var estimates = [PitchEstimate](repeating: .unvoiced, count: hops)
        _ = x.withUnsafeBufferPointer { p in estimates.withUnsafeMutableBufferPointer { estimator.process(p.baseAddress!, count: x.count, estimates: $0.baseAddress!, capacity: hops) } }
        var map = RegisterMap(targetMean: Double(high.pitchStatistics!.mean), targetStd: Double(high.pitchStatistics!.std))
        var y: Float = 0
        for e in estimates {
            let voiced = e.f0Hz > 0 && e.voicing > 0
            y = map.map(logF0: voiced ? e.logF0Feature : 0, voiced: voiced)
        }
        let predicted = 200 * pow(2, Double(y))
        let e = try engine(.convert, rate: rate, block: 480)
        func outputF0(_ profile: SpeakerProfile, _ mode: EngineParameters.RegisterMode, shift: Float = 0) -> Double {
            e.setSpeaker(profile)
            e.parameters.pitchShiftSemitones = shift
            let set = DispatchSemaphore(value: 0)
            DispatchQueue.global().async { e.parameters.registerMode = mode; set.signal() }
            set.wait()
            e.reset()
            let out = run(e, x, blocks: [480])
            XCTAssertTrue(out.allSatisfy(\.isFinite))
            XCTAssertEqual(e.statistics.hops, hops)
            return e.statistics.outputF0Hz
        }
        let auto = outputF0(high, .automatic)
        let octave = outputF0(high, .shiftOnly, shift: 12)
        let noStats = outputF0(base, .automatic, shift: -2)
        print("output F0 for a 120 Hz input: automatic (240 Hz register) \(auto) Hz (predicted \(predicted)), shift-only +12 st \(octave) Hz, no statistics -2 st \(noStats) Hz")
        XCTAssertEqual(auto, predicted, accuracy: 1e-9 * predicted)
        XCTAssertGreaterThan(auto, 1.6 * 120)
        XCTAssertEqual(octave, 240, accuracy: 0.01 * 240)
        XCTAssertEqual(noStats, octave / 2 * pow(2, -2.0 / 12), accuracy: 1e-6 * noStats)
    }

    /// Non-finite input samples are scrubbed to 0 before any processing (issue 21, defect 2): the
    /// output equals that of the same input with zeros there, every sample finite, counted.
    func testNonFiniteInputIsScrubbed() throws {
        let rate = 48000
        var x = probe(rate: rate, seconds: 1.5)
        var zeroed = x
        for (i, v) in [(1000, Float.nan), (5000, Float.infinity), (30001, -Float.infinity)] {
            x[i] = v
            zeroed[i] = 0
        }
        let profile = try SpeakerProfile(contentsOf: Self.weights + "/speakers/flite_rms.tmrvc_speaker")
        let a = try engine(.convert, rate: rate, block: 512), b = try engine(.convert, rate: rate, block: 512)
        a.setSpeaker(profile)
        b.setSpeaker(profile)
        a.reset()
        b.reset()
        let ya = run(a, x, blocks: [512]), yb = run(b, zeroed, blocks: [512])
        XCTAssertTrue(ya.allSatisfy(\.isFinite))
        XCTAssertEqual(ya, yb)
        XCTAssertEqual(a.statistics.nonFiniteInputSamples, 3)
        XCTAssertEqual(a.statistics.nonFiniteHops, 0)
        XCTAssertEqual(a.statistics.nonFiniteOutputSamples, 0)
        XCTAssertGreaterThan(ya.map { abs($0) }.max() ?? 0, 0.01)   // it still converts
    }

    /// Full-scale noise with +24 dB of output gain never exceeds the safety limiter's threshold
    /// (issue 21, defect 3: a peak of 1.32 came out before); dry at 0 dB passes it unchanged.
    func testOutputIsLimited() throws {
        let rate = 48000
        var rng = SystemRandomNumberGenerator()
        let x = (0..<rate).map { _ in Float.random(in: -1...1, using: &rng) }
        let e = try engine(.convert, rate: rate, block: 512)
        e.setSpeaker(try SpeakerProfile(contentsOf: Self.weights + "/speakers/flite_rms.tmrvc_speaker"))
        e.parameters.outputGainDB = 24
        e.reset()
        let y = run(e, x, blocks: [512])
        let peak = y.map { abs($0) }.max()!
        print("full-scale noise, +24 dB gain: output peak \(peak), limited samples \(e.statistics.limitedSamples)")
        XCTAssertLessThanOrEqual(peak, Float(TMRVCConstants.Output.limiterThreshold) * (1 + 1e-6))
        XCTAssertGreaterThan(e.statistics.limitedSamples, 0)
        XCTAssertTrue(y.allSatisfy(\.isFinite))
    }

    /// A vocoder of the pre-excitation contract (features -> magnitude, phase) is refused with an
    /// error naming the file and the contract; one without the `pitch` input names the input.
    func testOldVocoderContractIsRefusedClearly() throws {
        let dir = NSTemporaryDirectory() + "tmrvc-oldvoc-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["content_encoder", "converter", "ir_estimator"] {
            try FileManager.default.createSymbolicLink(atPath: dir + "/\(name).onnx", withDestinationPath: Self.weights + "/\(name).onnx")
        }
        let w = (0..<(241 * 80)).map { Float($0 % 11) * 0.01 }
        func write(outputs: [String], pitch: Bool) throws {
            let nodes = outputs.map { ("MatMul", ["w", "features"], [$0]) }
            let bytes = makeModel(nodes: nodes, initializers: [("w", [241, 80], w)],
                                  inputs: [("features", [1, 80, 1])] + (pitch ? [("pitch", [1, 2, 1])] : []),
                                  outputs: outputs.map { ($0, [1, 241, 1]) })
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/vocoder.onnx"))
        }
        try write(outputs: ["magnitude", "phase"], pitch: false)
        XCTAssertThrowsError(try StreamingEngine(modelsDirectory: dir)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains(dir + "/vocoder.onnx") && text.contains("pre-excitation vocoder contract"), text)
        }
        try write(outputs: ["harmonic", "noise"], pitch: false)
        XCTAssertThrowsError(try StreamingEngine(modelsDirectory: dir)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("vocoder.onnx") && text.contains("no input 'pitch'"), text)
        }
    }

    func testUnsupportedRateAndBlockSizeAreRejected() throws {
        let e = try StreamingEngine(modelsDirectory: Self.weights)
        XCTAssertThrowsError(try e.prepare(sampleRate: 22050, maxBlockSize: 512)) {
            XCTAssertTrue("\($0)".contains("22050 Hz is not supported"), "\($0)")
        }
        XCTAssertThrowsError(try e.prepare(sampleRate: 48000, maxBlockSize: 0))
        XCTAssertThrowsError(try StreamingEngine(modelsDirectory: "/nonexistent")) {
            XCTAssertTrue("\($0)".contains("/nonexistent/"), "\($0)")
        }
    }
}

extension StreamingEngine {
    /// `x` through the engine in blocks of the given sizes (cycled); the output, as long as `x`.
    func process(_ x: [Float], blocks: [Int]) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        var pos = 0, b = 0
        while pos < x.count {
            let n = min(blocks[b % blocks.count], x.count - pos)
            x.withUnsafeBufferPointer { xi in y.withUnsafeMutableBufferPointer { yo in
                process(input: xi.baseAddress! + pos, output: yo.baseAddress! + pos, frames: n)
            } }
            pos += n
            b += 1
        }
        return y
    }
}
