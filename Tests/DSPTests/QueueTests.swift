import Foundation
import XCTest
@testable import TMRVCDSP

final class QueueTests: XCTestCase {
    func testRingBufferWrapAround() {
        let r = RingBuffer<Float>(capacity: 5)
        XCTAssertTrue(r.isEmpty)
        XCTAssertEqual(r.write([1, 2, 3], count: 3), 3)
        XCTAssertEqual(r.popFirst(), 1)
        XCTAssertEqual(r.write([4, 5, 6, 7], count: 4), 3)   // only 3 free
        XCTAssertTrue(r.isFull)
        XCTAssertFalse(r.append(9))
        XCTAssertEqual((0..<r.count).map { r[$0] }, [2, 3, 4, 5, 6])
        var out = [Float](repeating: 0, count: 4)
        XCTAssertEqual(r.peek(into: &out, count: 4), 4)
        XCTAssertEqual(out, [2, 3, 4, 5])
        XCTAssertEqual(r.read(into: &out, count: 2), 2)
        XCTAssertEqual(Array(out[0..<2]), [2, 3])
        XCTAssertTrue(r.append(7))
        XCTAssertTrue(r.append(8))
        XCTAssertEqual(r.discard(1), 1)
        XCTAssertEqual(r.read(into: &out, count: 10), 4)
        XCTAssertEqual(out, [5, 6, 7, 8])
        XCTAssertNil(r.popFirst())
        XCTAssertEqual(r.availableToWrite, 5)
        r.append(1); r.removeAll()
        XCTAssertTrue(r.isEmpty)
    }
}
