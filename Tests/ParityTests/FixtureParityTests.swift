import Foundation
import XCTest
import TMRVCDSP
import TMRVCKernels
import TMRVCRuntime
import TMRVCTooling

/// Streams every model fixture (hundreds of frames with state feedback, chunk and call cases)
/// through the Swift runtime and compares with ONNX Runtime's outputs: max abs error per output
/// must stay within the manifest's tolerance (1e-4 for fp32).
final class FixtureParityTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func testAllModelsMatchONNXRuntime() throws {
        let rows = try FixtureParity.run(fixturesDir: Self.root + "/Tests/Fixtures", repositoryRoot: Self.root)
        print(FixtureParity.table(rows))
        XCTAssertGreaterThanOrEqual(Set(rows.map { $0.caseName.split(separator: "/")[0] }).count, 5, "all five models must be covered")
        XCTAssertTrue(rows.contains { $0.frames >= 300 }, "streamed cases must cover hundreds of frames")
        for r in rows where !r.passed {
            XCTFail("\(r.caseName) \(r.output): max abs error \(r.maxAbsError) at frame \(r.worstFrame) exceeds \(r.tolerance)")
        }
    }

    /// fp16 weight storage (SessionOptions.weightStorage = .float16): the same fixtures, every
    /// model, with a looser bar: outputs within 1e-2 absolute of ONNX Runtime's fp32 results
    /// (docs/performance.md lists the measured errors). The vocoder's envelopes (`harmonic` and
    /// `noise`, `magnitude` before the source–filter vocoder) are the `exp` of its head, so weight
    /// rounding gives errors proportional to the value (up to ~18 in the fixtures): they may
    /// instead meet a relative bar of 1e-2, which at the same time holds their small values to
    /// 1e-6 absolute (the relative error's floor is 1e-4).
    static let fp16Tolerance = 1e-2
    static let fp16MagnitudeRelativeTolerance = 1e-2

    func testAllModelsWithFloat16WeightsStayNearONNXRuntime() throws {
        #if DEBUG
        throw XCTSkip("fp16 parity runs in tools/test.sh's release step (unoptimised it takes ~2.5 min)")
        #endif
        try reducedPrecisionParity(.float16, tolerance: Self.fp16Tolerance, envelopeRelativeTolerance: Self.fp16MagnitudeRelativeTolerance)
    }

    /// Every model on the fixtures with `storage` weights, printed; each output within `tolerance`
    /// absolute, the vocoder's envelopes within `envelopeRelativeTolerance` relative instead.
    func reducedPrecisionParity(_ storage: WeightStorage, tolerance: Double, envelopeRelativeTolerance: Double) throws {
        var rows = try FixtureParity.run(fixturesDir: Self.root + "/Tests/Fixtures", repositoryRoot: Self.root,
                                         weightStorage: storage)
        for i in rows.indices {
            rows[i].tolerance = tolerance
            if rows[i].caseName.hasPrefix("vocoder/") && ["magnitude", "harmonic", "noise"].contains(rows[i].output) {
                rows[i].relativeTolerance = envelopeRelativeTolerance
            }
        }
        print("\(storage.label) weight storage:")
        print(FixtureParity.table(rows))
        XCTAssertGreaterThanOrEqual(Set(rows.map { $0.caseName.split(separator: "/")[0] }).count, 5, "all five models must be covered")
        for r in rows where !r.passed {
            XCTFail("\(storage.label) \(r.caseName) \(r.output): max abs error \(r.maxAbsError) at frame \(r.worstFrame) exceeds \(r.tolerance)")
        }
    }

    /// int8 weight storage (SessionOptions.weightStorage = .int8: per-output-channel int8 weights,
    /// int16 inputs quantised per product): the same fixtures, every model, printed, and held to
    /// the bars below: measured worst 0.36 absolute (the vocoder's hidden states, whose values
    /// reach ~18), 0.076 on the converter's features and 0.13 relative on the vocoder's envelopes
    /// (2026-12-07); the bars, 0.5 absolute and 0.25 relative for the envelopes, leave ~1.5-2x for
    /// other hosts and fixtures. int8 is an approximation whose check is the listening-level
    /// evaluation (docs/performance.md, `python -m tmrvc.evaluation --precisions fp32,int8`); this
    /// test catches a broken kernel or layout, which gives errors of order 1 and more.
    static let int8Tolerance = 0.5
    static let int8MagnitudeRelativeTolerance = 0.25

    func testAllModelsWithInt8WeightsStayNearONNXRuntime() throws {
        #if DEBUG
        throw XCTSkip("int8 parity runs in tools/test.sh's release step")
        #endif
        try reducedPrecisionParity(.int8, tolerance: Self.int8Tolerance, envelopeRelativeTolerance: Self.int8MagnitudeRelativeTolerance)
    }

    /// ONNX Runtime's own dynamic-INT8 files of the five models (`quantize_dynamic`, per-channel
    /// QInt8: DynamicQuantizeLinear feeding MatMulInteger / ConvInteger, then Cast and Mul by the
    /// scales) run by this runtime and compared with ORT's outputs on the same files and inputs,
    /// streamed with state feedback like the fp32 fixtures, each output within the set's bar
    /// (`ORT_INT8_TOLERANCE` in tools/tmrvc/fixtures.py, which explains it). tools/test.sh writes
    /// the set (`python -m tmrvc.fixtures --ort-int8 .build/ort-int8-fixtures`; the directory in
    /// `TMRVC_ORT_INT8_FIXTURES` instead when set); without it the test skips, except under CI.
    func testONNXRuntimeInt8FilesMatchONNXRuntime() throws {
        #if DEBUG
        throw XCTSkip("ORT int8-file parity runs in tools/test.sh's release step")
        #endif
        let dir = ProcessInfo.processInfo.environment["TMRVC_ORT_INT8_FIXTURES"] ?? Self.root + "/.build/ort-int8-fixtures"
        guard FileManager.default.fileExists(atPath: dir + "/manifest.json") else {
            let message = "\(dir)/manifest.json missing: run `cd tools && ../.venv/bin/python -m tmrvc.fixtures --ort-int8 ../.build/ort-int8-fixtures`"
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail(message); return }
            throw XCTSkip(message)
        }
        let rows = try FixtureParity.run(fixturesDir: dir, repositoryRoot: dir)
        print("ONNX Runtime's dynamic-INT8 files (\(KernelSet.active.name) kernels):")
        print(FixtureParity.table(rows))
        XCTAssertGreaterThanOrEqual(Set(rows.map { $0.caseName.split(separator: "/")[0] }).count, 5, "all five models must be covered")
        XCTAssertTrue(rows.contains { $0.frames >= 300 }, "streamed cases must cover hundreds of frames")
        for r in rows where !r.passed {
            XCTFail("ORT int8 \(r.caseName) \(r.output): max abs error \(r.maxAbsError) at frame \(r.worstFrame) exceeds \(r.tolerance)")
        }
    }

    /// The engine's source–filter synthesis (ExcitationGenerator at the pitch input's F0, `Y = H E_h +
    /// N E_n`, OverlapAddSynthesizer) against the fixture's `vocoder/synthesis` case
    /// (`tmrvc.excitation.synthesize` of the vocoder stream's `harmonic` and `noise`, float64), max abs
    /// error within the case's tolerance. Skipped with fixtures generated before the source–filter
    /// vocoder (they have `vocoder/istft` instead). `TMRVC_FIXTURES_DIR` points it at another fixture
    /// set (e.g. one generated with `python -m tmrvc.fixtures --out DIR`).
    func testVocoderSynthesisMatchesReference() throws {
        let dir = ProcessInfo.processInfo.environment["TMRVC_FIXTURES_DIR"] ?? Self.root + "/Tests/Fixtures"
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))
        let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try XCTUnwrap(manifest["cases"] as? [[String: Any]])
        guard let c = cases.first(where: { $0["name"] as? String == "vocoder/synthesis" }) else {
            throw XCTSkip("Tests/Fixtures has no vocoder/synthesis case (fixtures of the pre-excitation vocoder)")
        }
        func file(_ list: String, _ name: String) throws -> [Float] {
            let items = try XCTUnwrap(c[list] as? [[String: Any]])
            let item = try XCTUnwrap(items.first { $0["name"] as? String == name }, "\(list) '\(name)'")
            return try NPY.load(path: dir + "/" + (item["file"] as! String)).floats
        }
        let h = try file("inputs", "harmonic"), n = try file("inputs", "noise"), pitch = try file("inputs", "pitch")
        let reference = try XCTUnwrap(c["outputs"] as? [[String: Any]]).first.map { try NPY.load(path: dir + "/" + ($0["file"] as! String)).floats }!
        let tolerance = ((c["tolerance"] as? [String: Any])?["max_abs"] as? Double) ?? 1e-4
        let bins = ExcitationGenerator.binCount, hop = ExcitationGenerator.hopLength
        let frames = h.count / bins
        XCTAssertEqual(n.count, frames * bins)
        XCTAssertEqual(pitch.count, frames * 2)
        XCTAssertEqual(reference.count, frames * hop)
        let g = ExcitationGenerator(), syn = OverlapAddSynthesizer()
        var re = [Float](repeating: 0, count: bins), im = [Float](repeating: 0, count: bins)
        var out = [Float](repeating: 0, count: frames * hop)
        for t in 0..<frames {
            let f0 = pitch[2 * t + 1] > 0 ? 200 * pow(2.0, Double(pitch[2 * t])) : 0
            g.step(f0Hz: f0)
            h.withUnsafeBufferPointer { hp in n.withUnsafeBufferPointer { np in
                g.shape(harmonic: hp.baseAddress! + t * bins, noise: np.baseAddress! + t * bins, real: &re, imaginary: &im)
            } }
            out.withUnsafeMutableBufferPointer { syn.synthesize(real: re, imaginary: im, output: $0.baseAddress! + t * hop) }
        }
        var err: Float = 0, peak: Float = 0
        for i in 0..<out.count { err = max(err, abs(out[i] - reference[i])); peak = max(peak, abs(reference[i])) }
        print("vocoder/synthesis: engine source-filter synthesis vs tmrvc.excitation.synthesize: max abs error \(err) (peak \(peak), \(frames) frames)")
        XCTAssertLessThanOrEqual(Double(err), tolerance)
    }
}
