import Foundation
import XCTest
import TMRVCAudioIO
import TMRVCTooling
@testable import TMRVCEngine

/// End to end: the engine, driven exactly as `tmrvc convert` drives it, against an independent
/// Python implementation of the same algorithm on ONNX Runtime + the reference DSP
/// (tools/tmrvc/reference_engine.py -> Tests/Fixtures/engine/). Tolerance: max abs error
/// <= 4e-4 x the reference peak. With the weights of 2026-12-04 the output is ill-conditioned at
/// float32 rounding level (the vocoder's phase head): moving the input of the Python reference
/// itself by one ulp (x(1 +- 2^-23), ten draws) moves its output by up to 1.9e-4 x peak, at the same
/// sample where the engine differs most (measured 6.2e-5 = 2.0e-4 x peak 0.31). With the weights
/// before it this test measured 3.1e-5 x peak against a bar of 1e-4 x peak.
final class ReferenceEngineTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func testConvertMatchesPythonReferencePipeline() throws {
        let audio = try AudioFile.read(path: Self.root + "/Tests/Fixtures/audio/utt0_en-us.wav")
        let reference = try NPY.load(path: Self.root + "/Tests/Fixtures/engine/utt0_flite_rms_q0.npy").floats
        let engine = try StreamingEngine(modelsDirectory: Self.root + "/weights")
        engine.overloadControlEnabled = false
        engine.parameters.quality = 0
        engine.parameters.gateThresholdDB = -120
        try engine.prepare(sampleRate: audio.sampleRate, maxBlockSize: 4096)
        engine.setSpeaker(try SpeakerProfile(contentsOf: Self.root + "/weights/speakers/flite_rms.tmrvc_speaker"))
        let latency = engine.latencySamples
        XCTAssertEqual(latency, 480)
        let x = audio.samples + [Float](repeating: 0, count: latency)
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xi in y.withUnsafeMutableBufferPointer { yo in
            engine.process(input: xi.baseAddress!, output: yo.baseAddress!, frames: x.count)
        } }
        let aligned = Array(y[latency...])
        XCTAssertEqual(aligned.count, reference.count)
        var worst: Float = 0, at = 0
        for i in 0..<min(aligned.count, reference.count) where abs(aligned[i] - reference[i]) > worst {
            worst = abs(aligned[i] - reference[i]); at = i
        }
        let peak = reference.map(abs).max() ?? 0
        print("engine vs Python reference: max abs error \(worst) at sample \(at) (reference peak \(peak))")
        XCTAssertGreaterThan(peak, 0.001, "the reference output must not be silent")
        XCTAssertLessThanOrEqual(worst, 4e-4 * peak)
    }
}
