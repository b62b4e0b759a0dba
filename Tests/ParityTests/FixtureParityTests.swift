import Foundation
import XCTest
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
    /// (docs/performance.md lists the measured errors). The vocoder's `magnitude` is the `exp`
    /// of its log-magnitude head, so weight rounding gives errors proportional to the value (up
    /// to ~18 in the fixtures): it may instead meet a relative bar of 1e-2, which at the same time
    /// holds its small values to 1e-6 absolute (the relative error's floor is 1e-4).
    static let fp16Tolerance = 1e-2
    static let fp16MagnitudeRelativeTolerance = 1e-2

    func testAllModelsWithFloat16WeightsStayNearONNXRuntime() throws {
        #if DEBUG
        throw XCTSkip("fp16 parity runs in tools/test.sh's release step (unoptimised it takes ~2.5 min)")
        #endif
        var rows = try FixtureParity.run(fixturesDir: Self.root + "/Tests/Fixtures", repositoryRoot: Self.root,
                                         weightStorage: .float16)
        for i in rows.indices {
            rows[i].tolerance = Self.fp16Tolerance
            if rows[i].caseName.hasPrefix("vocoder/") && rows[i].output == "magnitude" {
                rows[i].relativeTolerance = Self.fp16MagnitudeRelativeTolerance
            }
        }
        print("fp16 weight storage:")
        print(FixtureParity.table(rows))
        XCTAssertGreaterThanOrEqual(Set(rows.map { $0.caseName.split(separator: "/")[0] }).count, 5, "all five models must be covered")
        for r in rows where !r.passed {
            XCTFail("fp16 \(r.caseName) \(r.output): max abs error \(r.maxAbsError) at frame \(r.worstFrame) exceeds \(r.tolerance)")
        }
    }
}
