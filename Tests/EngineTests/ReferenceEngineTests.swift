import Foundation
import XCTest
import TMRVCAudioIO
import TMRVCTooling
@testable import TMRVCEngine

/// End to end: the engine, driven exactly as `tmrvc convert` drives it, against an independent
/// Python implementation of the same algorithm on ONNX Runtime + the reference DSP
/// (tools/tmrvc/reference_engine.py -> Tests/Fixtures/engine/). Tolerance: max abs error
/// <= 1e-4 x the reference peak (trained weights, peak 0.39: measured 1.2e-5 = 3.1e-5 x peak;
/// float32 differences of two implementations of the same arithmetic, not a drift).
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
        XCTAssertLessThanOrEqual(worst, 1e-4 * peak)
    }
}
