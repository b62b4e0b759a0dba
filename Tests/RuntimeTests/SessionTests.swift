import XCTest
import ONNXFormat
@testable import TMRVCRuntime

final class SessionTests: XCTestCase {
    func testBroadcastAddAndReshapeView() throws {
        let b = BroadcastPlan([[2, 3], [3]])!
        XCTAssertEqual(b.outputShape, [2, 3])
        XCTAssertEqual(b.rowLength, 6 / b.rowCount)
        let c = BroadcastPlan([[2, 1], [1, 3]])!
        XCTAssertEqual(c.outputShape, [2, 3])
        XCTAssertNil(BroadcastPlan([[2], [3]]))
    }
}
