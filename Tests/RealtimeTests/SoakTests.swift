import Foundation
import XCTest
import AllocationCounter
import TMRVCConstants
import TMRVCEngine

/// The soak test: `TMRVC_SOAK_SECONDS` of audio (default 60; docs/design/streaming-design.md records a
/// one-hour run) streamed at 48 kHz through the converting engine, as fast as the machine goes, in
/// random block sizes, with random control changes every 0.1–1 s, a speaker hot-swap every 1–4 s,
/// and an injected overload (each hop made 15 ms slower for 0.3 s) every 20 s with the overload
/// control on, which must lower the quality each time unless the machine itself already took it to its floor (how often the quality was back before the
/// next injection is printed: on a loaded machine it stays down, as it should; the hysteresis itself
/// is tested with synthetic hop times in StreamingEngineTests). Checked over the whole run: no non-finite sample and nothing above the limiter's
/// ceiling, no allocation, free, mutex lock or system call on the audio thread (the posts and the
/// checkpoints run outside the counted windows, as another thread would do them), only latencies of
/// some quality profile reported, no underrun, the output never silent for longer than the gate's
/// hold and release allow (the input never drops below −27 dBFS and the gate stays below −50 dBFS),
/// and every 60 s a checkpoint: with wet 0 the output is the input delayed by exactly the reported
/// latency (no drift), and the resident memory stays flat.
final class SoakTests: XCTestCase {
    static let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/weights"

    /// xorshift64*: deterministic and allocation-free (SystemRandomNumberGenerator makes a system call).
    struct Random {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
        mutating func uniform(_ r: ClosedRange<Float>) -> Float { r.lowerBound + (r.upperBound - r.lowerBound) * unit() }
        mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
    }

    /// A voice-like loop that is never silent: a harmonic series whose F0 glides 100–250 Hz, a
    /// syllable-rate envelope between 0.045 and 0.3 peak, and a little noise.
    static func voiceLoop(rate: Int, seconds: Double) -> [Float] {
        var rng = Random(state: 7)
        var phase = 0.0
        return (0..<Int(Double(rate) * seconds)).map { i in
            let t = Double(i) / Double(rate)
            let f0 = 175 + 75 * sin(2 * .pi * 0.23 * t) + 8 * sin(2 * .pi * 5.5 * t)
            phase += 2 * .pi * f0 / Double(rate)
            let env = 0.17 + 0.13 * sin(2 * .pi * 3.7 * t) * sin(2 * .pi * 0.61 * t + 1)
            var s = 0.0
            for k in 1...12 where Double(k) * f0 < 0.45 * Double(rate) { s += sin(Double(k) * phase) / Double(k) }
            return Float(env * (0.55 * s + 0.05 * Double(rng.uniform(-1...1))))
        }
    }

    @inline(never)
    static func residentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = s.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// Posts a speaker as a host's message thread would (outside the counted windows); not inlined,
    /// so the copies it makes are released here and not later inside a counted window.
    @inline(never)
    static func post(_ speakers: [SpeakerProfile], _ i: Int, to e: StreamingEngine) { e.post(speakers[i]) }

    func testSoak() throws {
        try AllocationTests.requireRelease()
        let seconds = Double(ProcessInfo.processInfo.environment["TMRVC_SOAK_SECONDS"] ?? "") ?? 60
        let rate = 48000, maxBlock = 1024, total = Int(seconds * Double(rate))
        let e = try StreamingEngine(modelsDirectory: Self.weights)
        e.parameters.quality = 0.5
        e.parameters.gateThresholdDB = -60
        try e.prepare(sampleRate: rate, maxBlockSize: maxBlock)
        let speakers = try ["flite_rms", "fest_ked"].map {
            try SpeakerProfile(contentsOf: Self.weights + "/speakers/\($0).tmrvc_speaker")
        }
        e.setSpeaker(speakers[0])
        let loop = Self.voiceLoop(rate: rate, seconds: 10.7)
        let ceiling = Float(TMRVCConstants.Output.limiterThreshold) * (1 + 1e-6)
        var y = [Float](repeating: 0, count: maxBlock)
        var rng = Random()

        // Latencies of the quality profiles: at 48 kHz each lookahead hop adds exactly 480 samples.
        e.parameters.quality = 0
        e.reset()
        let latency0 = e.latencySamples
        func valid(_ l: Int) -> Bool {
            (l - latency0) % 480 == 0 && (0...TMRVCConstants.Streaming.maxLookaheadHops).contains((l - latency0) / 480)
        }
        e.parameters.quality = 0.5

        var allocations = 0, frees = 0, locks = 0, syscalls = 0
        @inline(never) func pause() {
            allocations += tmrvc_allocation_counting_end()
            frees += tmrvc_frees_counted(); locks += tmrvc_locks_counted(); syscalls += tmrvc_syscalls_counted()
        }
        var pos = 0, done = 0, nonFinite = 0, overCeiling = 0, badLatency = 0
        var silentRun = 0, longestSilence = 0, posts = 0, checkpoints = 0, worstDrift: Float = 0
        var overloads = 0, recovered = 0, judged = 0, reductionsAtInjection = 0, injectedAtFloor = 0
        var nextControl = 0, nextSpeaker = rate, nextOverload = 20 * rate, overloadEnd = -1, nextCheckpoint = 60 * rate
        var rss: [Int] = []

        /// wet 0, unity gain, no gate, overload control off: after 0.25 s of settling the output
        /// must be the input delayed by the reported latency, sample for sample. Not inlined: what it
        /// allocates is released inside it, not later in a counted window.
        @inline(never) func checkpoint() {
            let saved = (e.parameters.wet, e.parameters.outputGainDB, e.parameters.gateThresholdDB)
            e.overloadControlEnabled = false
            e.simulatedExtraHopCostMicroseconds = 0
            e.parameters.wet = 0; e.parameters.outputGainDB = 0; e.parameters.gateThresholdDB = -120
            let settle = rate / 4, check = rate / 10
            var out = [Float](repeating: 0, count: settle + check)
            loop.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { o in
                var k = 0
                while k < settle + check {
                    let n = min(512, settle + check - k)
                    e.process(input: x.baseAddress! + k, output: o.baseAddress! + k, frames: n)
                    k += n
                }
            } }
            let latency = e.latencySamples
            for i in settle..<(settle + check) where i - latency >= 0 {
                worstDrift = max(worstDrift, abs(out[i] - loop[i - latency]))
            }
            e.parameters.wet = saved.0; e.parameters.outputGainDB = saved.1; e.parameters.gateThresholdDB = saved.2
            e.overloadControlEnabled = true
            checkpoints += 1
            rss.append(Self.residentBytes())
        }

        let start = Date()
        tmrvc_allocation_counting_begin()
        while done < total {
            if done >= nextControl && nextOverload - done > rate / 2 {   // q steady before an overload
                e.parameters.quality = rng.unit()
                e.parameters.pitchShiftSemitones = rng.uniform(-12...12)
                e.parameters.wet = rng.unit()
                e.parameters.outputGainDB = rng.uniform(-20...12)
                e.parameters.voiceSourceAlpha = rng.unit()
                e.parameters.gateThresholdDB = rng.int(0...3) == 0 ? -120 : rng.uniform(-90...(-50))
                e.parameters.registerMode = rng.int(0...1) == 0 ? .automatic : .shiftOnly
                nextControl = done + rng.int((rate / 10)...rate)
            }
            if done >= nextOverload {
                // Recovered from the previous one: the quality in use is the user's again (q has
                // not changed for 0.5 s). Judged only where the machine itself caused no overload
                // since then (a loaded machine keeps the quality down, as it should).
                let st = e.statistics
                if overloads > 0 && st.overloadReductions == reductionsAtInjection + 1 {
                    judged += 1
                    if st.effectiveQuality == e.parameters.quality { recovered += 1 }
                }
                e.simulatedExtraHopCostMicroseconds = 15_000
                overloadEnd = done + 3 * rate / 10
                nextOverload = done + 20 * rate
                overloads += 1
                let now = e.statistics
                reductionsAtInjection = now.overloadReductions
                // A machine that is itself too slow (e.g. under a sanitizer) may already have taken
                // the quality to its floor, where an injected overload has nothing left to lower.
                if now.effectiveQuality == 0 { injectedAtFloor += 1 }
            }
            if overloadEnd >= 0 && done >= overloadEnd { e.simulatedExtraHopCostMicroseconds = 0; overloadEnd = -1 }
            if done >= nextSpeaker {
                pause()
                Self.post(speakers, posts % 2 == 0 ? 1 : 0, to: e)
                posts += 1
                nextSpeaker = done + rng.int(rate...(4 * rate))
                tmrvc_allocation_counting_begin()
            }
            if done >= nextCheckpoint {
                pause()
                checkpoint()
                silentRun = 0
                nextCheckpoint = done + 60 * rate
                tmrvc_allocation_counting_begin()
            }
            let n = min(rng.int(1...maxBlock), total - done, loop.count - pos)
            loop.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { o in
                e.process(input: x.baseAddress! + pos, output: o.baseAddress!, frames: n)
            } }
            for k in 0..<n {
                let v = y[k]
                if !v.isFinite { nonFinite += 1 } else if abs(v) > ceiling { overCeiling += 1 }
                if abs(v) < 1e-3 { silentRun += 1; longestSilence = max(longestSilence, silentRun) } else { silentRun = 0 }
            }
            if !valid(e.latencySamples) { badLatency += 1 }
            pos = (pos + n) % loop.count
            done += n
        }
        pause()
        withExtendedLifetime(speakers) {}   // released here, not inside a counted window
        checkpoint()
        let wall = Date().timeIntervalSince(start)
        let s = e.statistics
        let growth = (rss.last ?? 0) - (rss.first ?? 0)
        print(String(format: "soak: %.0f s of 48 kHz audio in %.1f s (%.1fx real time); %d hops, %d crossfades, "
                     + "%d speaker posts (generation %d), %d injected overloads (%d at the quality floor) -> %d quality reductions, quality back before %d of %d later ones (those without overloads of the machine's own); longest "
                     + "output silence %.1f ms; %d checkpoints, worst dry-path drift %.2g; resident memory %.1f -> %.1f MB; "
                     + "audio thread: %d allocations, %d frees, %d locks, %d system calls",
                     seconds, wall, seconds / wall, s.hops, s.crossfades, posts, e.speakerGeneration, overloads, injectedAtFloor,
                     s.overloadReductions, recovered, judged, 1000 * Double(longestSilence) / Double(rate), checkpoints, worstDrift,
                     Double(rss.first ?? 0) / 1e6, Double(rss.last ?? 0) / 1e6, allocations, frees, locks, syscalls))
        XCTAssertEqual(nonFinite, 0, "non-finite output samples")
        XCTAssertEqual(overCeiling, 0, "samples above the limiter's ceiling")
        XCTAssertEqual(s.nonFiniteOutputSamples, 0)
        XCTAssertEqual(allocations, 0, "allocations on the audio thread")
        XCTAssertEqual(frees, 0, "free() on the audio thread")
        XCTAssertEqual(locks, 0, "mutex locks on the audio thread")
        XCTAssertEqual(syscalls, 0, "system calls on the audio thread")
        XCTAssertEqual(badLatency, 0, "latencies of no quality profile reported")
        XCTAssertEqual(s.underruns, 0)
        XCTAssertEqual(worstDrift, 0, "the dry path is not the input delayed by the reported latency")
        XCTAssertEqual(e.speakerGeneration, posts + 0, "every posted speaker picked up")
        XCTAssertGreaterThanOrEqual(s.overloadReductions + injectedAtFloor, overloads,
                                    "every injected overload lowers the quality (unless it is already at its floor)")
        XCTAssertLessThanOrEqual(Double(longestSilence) / Double(rate), 0.25, "the output went silent")
        XCTAssertLessThanOrEqual(growth, 4 << 20, "resident memory grew by \(growth) bytes")
    }
}
