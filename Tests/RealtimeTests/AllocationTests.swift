import XCTest
import AllocationCounter
import ONNXFormat
import TestSupport
import TMRVCRuntime

/// Counts heap allocations around `run()`. Meaningful in release builds (debug builds allocate
/// far more), so `tools/test.sh` also runs this target with `-c release`.
final class AllocationTests: XCTestCase {
    func testCounterSeesAllocations() {
        XCTAssertEqual(tmrvc_allocation_counter_is_active(), 1, "malloc interposition is not active")
        tmrvc_allocation_counting_begin()
        let a = [Int](repeating: 1, count: 1000)
        let n = tmrvc_allocation_counting_end()
        XCTAssertEqual(a.count, 1000)
        XCTAssertGreaterThan(n, 0, "the counter must see an array allocation")
    }

    /// Real-time claims are about release builds; debug builds box closures and allocate.
    static func requireRelease() throws {
        #if DEBUG
        throw XCTSkip("allocation counts are checked in release builds (tools/test.sh runs this target with -c release)")
        #endif
    }

    func testSmallGraphRunDoesNotAllocate() throws {
        try Self.requireRelease()
        let simple = makeModel(nodes: [("Add", ["x", "w"], ["a"]), ("Mul", ["a", "w"], ["y"])],
                               initializer: ("w", [4], [1, 2, 3, 4]), input: ("x", [2, 4]), output: ("y", [2, 4]))
        let file = simple.withUnsafeBytes { MappedFile(copying: $0, name: "mem.onnx") }
        let s = try InferenceSession(model: try ONNXModel.decode(file: file))
        s.run()
        tmrvc_allocation_counting_begin()
        for _ in 0..<10_000 { s.run() }
        let n = tmrvc_allocation_counting_end()
        XCTAssertEqual(n, 0, "InferenceSession.run() allocated \(n) times in 10,000 runs")
    }
}
