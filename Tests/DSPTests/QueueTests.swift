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

    func testSPSCSingleThread() {
        let q = SPSCQueue<Int32>(minimumCapacity: 5)
        XCTAssertEqual(q.capacity, 8)
        for i in 0..<8 { XCTAssertTrue(q.push(Int32(i))) }
        XCTAssertFalse(q.push(99))
        XCTAssertEqual(q.availableToRead, 8)
        XCTAssertEqual(q.availableToWrite, 0)
        for i in 0..<3 { XCTAssertEqual(q.pop(), Int32(i)) }
        XCTAssertEqual(q.write([10, 11, 12, 13], count: 4), 3)
        var out = [Int32](repeating: 0, count: 10)
        XCTAssertEqual(q.read(into: &out, count: 10), 8)
        XCTAssertEqual(Array(out[0..<8]), [3, 4, 5, 6, 7, 10, 11, 12])
        XCTAssertNil(q.pop())
    }

    /// A producer thread streams 2,000,000 consecutive integers in random-size bursts; the consumer
    /// thread reads them in other random-size bursts and checks the sequence.
    func testSPSCTwoThreads() {
        let q = SPSCQueue<UInt32>(minimumCapacity: 1000)
        let total: UInt32 = 2_000_000
        let producerDone = DispatchSemaphore(value: 0)
        let producer = Thread {
            var rng = TestRNG(seed: 11)
            var next: UInt32 = 0
            var chunk = [UInt32](repeating: 0, count: 700)
            while next < total {
                if rng.next() % 4 == 0 {
                    if q.push(next) { next += 1 }
                    continue
                }
                let n = min(Int(rng.next() % 700) + 1, Int(total - next))
                for i in 0..<n { chunk[i] = next + UInt32(i) }
                let w = q.write(chunk, count: n)
                next += UInt32(w)
                if w == 0 { sched_yield() }
            }
            producerDone.signal()
        }
        producer.start()
        var rng = TestRNG(seed: 12)
        var expected: UInt32 = 0
        var buf = [UInt32](repeating: 0, count: 900)
        var errors = 0
        while expected < total {
            if rng.next() % 4 == 0 {
                if let v = q.pop() {
                    if v != expected { errors += 1 }
                    expected += 1
                }
                continue
            }
            let n = q.read(into: &buf, count: Int(rng.next() % 900) + 1)
            for i in 0..<n where buf[i] != expected + UInt32(i) { errors += 1 }
            expected += UInt32(n)
            if n == 0 { sched_yield() }
        }
        producerDone.wait()
        XCTAssertEqual(errors, 0)
        XCTAssertEqual(expected, total)
        XCTAssertNil(q.pop())
    }
}
