import Foundation
import XCTest
import TMRVCEngine

/// The speaker mailbox under concurrency: two posters and a taking "audio" thread. Every profile
/// the taker sees is one that was posted, whole (never a mix of two slots); the newest post wins;
/// posting never waits for the taker.
final class SpeakerMailboxTests: XCTestCase {
    /// A profile whose every value encodes `id`, so a torn read (half of one post, half of
    /// another) is detectable.
    static func profile(_ id: Int) -> SpeakerProfile {
        let v = Float(id)
        return SpeakerProfile(embedding: [Float](repeating: v, count: 192), loraDelta: [Float](repeating: v, count: 4096),
                              voiceSourcePreset: id % 2 == 0 ? [Float](repeating: v, count: 8) : nil,
                              pitchStatistics: id % 3 == 0 ? PitchStatistics(mean: v, std: 1) : nil)
    }

    func testConcurrentPostersAndTakerSeeWholeProfilesNewestLast() {
        let box = SpeakerMailbox()
        let posts = 400
        let done = DispatchGroup()
        for poster in 0..<2 {
            done.enter()
            Thread {
                for k in 0..<posts { box.post(Self.profile(1 + poster * posts + k)) }
                done.leave()
            }.start()
        }
        var seen = 0, torn = 0, last = -1
        let deadline = Date().addingTimeInterval(60)
        var finished = false
        while !finished && Date() < deadline {
            finished = done.wait(timeout: .now()) == .success
            _ = box.take { e, l, p, s in
                let id = e[0]
                if (0..<192).contains(where: { e[$0] != id }) || (0..<4096).contains(where: { l[$0] != id }) { torn += 1 }
                if Int(id) % 2 == 0 { if p == nil || p![0] != id { torn += 1 } } else if p != nil { torn += 1 }
                if Int(id) % 3 == 0 { if s == nil || s![0] != id { torn += 1 } } else if s != nil { torn += 1 }
                seen += 1
                last = Int(id)
            }
        }
        XCTAssertTrue(finished, "posting must not block on the taker")
        XCTAssertEqual(torn, 0, "a taken profile mixed two posts")
        XCTAssertGreaterThan(seen, 0)
        XCTAssertLessThanOrEqual(seen, 2 * posts)
        // After both posters finish, one more take returns the newest of the two posters' last posts.
        var final = -1
        _ = box.take { e, _, _, _ in final = Int(e[0]) }
        let newest = final >= 0 ? final : last
        XCTAssertTrue(newest == posts || newest == 2 * posts, "the last take must be one poster's final profile (got \(newest))")
        XCTAssertEqual(box.generation, seen + (final >= 0 ? 1 : 0))
    }
}
