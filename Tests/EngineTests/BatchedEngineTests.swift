import Foundation
import XCTest
import TMRVCAudioIO
@testable import TMRVCEngine
import TMRVCConstants

/// Offline batching (`StreamingEngine.batchHops`, what `tmrvc convert` uses): the same output as
/// the real-time one-hop path, one batch later.
final class BatchedEngineTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func engine(q: Float, batchHops: Int, rate: Int, contentWarp: Float = 0) throws -> StreamingEngine {
        let e = try StreamingEngine(modelsDirectory: Self.root + "/weights")
        e.overloadControlEnabled = false
        e.parameters.quality = q
        e.parameters.contentWarpStrength = contentWarp
        e.parameters.gateThresholdDB = -120
        e.batchHops = batchHops
        try e.prepare(sampleRate: rate, maxBlockSize: 4096)
        e.setSpeaker(try SpeakerProfile(contentsOf: Self.root + "/weights/speakers/flite_rms.tmrvc_speaker"))
        return e
    }

    /// The input, then `latency` zeros, through the engine in uneven blocks; the output with its
    /// first `latency` samples dropped (lined up with the input), as `tmrvc convert` does.
    func convert(_ e: StreamingEngine, _ x: [Float], blocks: [Int]) -> [Float] {
        let latency = e.latencySamples
        return Array(e.process(x + [Float](repeating: 0, count: latency), blocks: blocks)[latency...])
    }

    /// Batched vs one-hop conversion of a real utterance at q = 0 (IR interval 20, batches of 100
    /// hops) and q = 1 (lookahead 6, interval 5), uneven blocks, and with the content warp at both
    /// (its factor per hop reads the register statistics of the hops before, mapped hop by hop in
    /// both paths). The F0 analysis is the same code on
    /// the same samples; only the models' summation order differs (matrix–matrix vs matrix–vector
    /// products), so the outputs agree to float rounding. A wrong room-estimate hop, a lookahead
    /// off by one frame or a state handed over wrongly shows at 1e-3 ... 1e-1 of the peak.
    func testBatchedConversionEqualsOneHopConversion() throws {
        let audio = try AudioFile.read(path: Self.root + "/Tests/Fixtures/audio/utt0_en-us.wav")
        let x = Array(audio.samples.prefix(audio.sampleRate * 2))
        for (q, hops, warp) in [(Float(0), 100, Float(0)), (Float(1), 37, Float(0)), (Float(0), 100, Float(0.25)),
                                (Float(1), 37, Float(0.25))] {
            let streamed = try engine(q: q, batchHops: 1, rate: audio.sampleRate, contentWarp: warp)
            let batched = try engine(q: q, batchHops: hops, rate: audio.sampleRate, contentWarp: warp)
            let batch = try XCTUnwrap(batched.batchSize)
            XCTAssertEqual(batch % streamed.currentProfile.irUpdateInterval, 0)
            XCTAssertEqual(batched.latencySamples, streamed.latencySamples + (batch - 1) * TMRVCConstants.Audio.hopLength)
            let a = convert(streamed, x, blocks: [512])
            let b = convert(batched, x, blocks: [1, 4096, 333, 240, 7])
            XCTAssertEqual(a.count, b.count)
            var worst: Float = 0
            for i in 0..<a.count { worst = max(worst, abs(a[i] - b[i])) }
            let peak = a.map(abs).max() ?? 0
            print("q \(q), content warp \(warp), batches of \(batch) hops: batched vs one-hop conversion max abs difference \(worst) (peak \(peak)); latency \(streamed.latencySamples) -> \(batched.latencySamples) samples")
            XCTAssertGreaterThan(peak, 0.01, "the conversion must not be silent")
            XCTAssertLessThanOrEqual(worst, 1e-5, "q \(q), content warp \(warp)")
        }
    }

    /// Changes while batching are picked up between batches: a quality change (the batch was
    /// compiled for the other profile, so the engine continues hop by hop), a speaker posted
    /// mid-stream, a pitch shift. The output stays finite and converted; the latency follows q.
    func testChangesWhileBatching() throws {
        let audio = try AudioFile.read(path: Self.root + "/Tests/Fixtures/audio/utt0_en-us.wav")
        let x = Array(audio.samples.prefix(audio.sampleRate * 2))
        let e = try engine(q: 0, batchHops: 40, rate: audio.sampleRate)
        let before = e.latencySamples
        var y = [Float](repeating: 0, count: x.count)
        let third = x.count / 3
        x.withUnsafeBufferPointer { xi in y.withUnsafeMutableBufferPointer { yo in
            e.process(input: xi.baseAddress!, output: yo.baseAddress!, frames: third)
            e.parameters.quality = 1
            e.parameters.pitchShiftSemitones = 3
            e.post(try! SpeakerProfile(contentsOf: Self.root + "/weights/speakers/fest_ked.tmrvc_speaker"))
            e.process(input: xi.baseAddress! + third, output: yo.baseAddress! + third, frames: third)
            e.parameters.quality = 0
            e.process(input: xi.baseAddress! + 2 * third, output: yo.baseAddress! + 2 * third, frames: x.count - 2 * third)
        } }
        XCTAssertTrue(y.allSatisfy(\.isFinite))
        XCTAssertEqual(e.speakerGeneration, 1)
        XCTAssertGreaterThanOrEqual(e.statistics.crossfades, 2)
        XCTAssertEqual(e.latencySamples, before, "back at q = 0, the latency is the batched one again")
        let tail = y[(2 * third)...].map(abs).max() ?? 0
        XCTAssertGreaterThan(tail, 0.01)
    }
}
