import XCTest
import TMRVCConstants
@testable import TMRVCEngine

final class SpeakerFileTests: XCTestCase {
    func profile(preset: Bool = true) -> SpeakerProfile {
        SpeakerProfile(embedding: (0..<TMRVCConstants.Dims.speaker).map { Float($0) / 100 },
                       loraDelta: (0..<TMRVCConstants.Lora.deltaSize).map { Float($0 % 7) * 0.01 },
                       voiceSourcePreset: preset ? [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] : nil,
                       metadataJSON: #"{"name":"test"}"#)
    }

    func testRoundTripWithAndWithoutPreset() throws {
        for preset in [true, false] {
            let p = profile(preset: preset)
            let back = try SpeakerProfile(bytes: try p.encoded(), path: "mem")
            XCTAssertEqual(back, p)
        }
    }

    func testCRCMatchesZlib() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }

    func testCorruptionIsDetectedAndNamed() throws {
        let good = try profile().encoded()
        var flipped = good
        flipped[100] ^= 0x01
        XCTAssertThrowsError(try SpeakerProfile(bytes: flipped, path: "v.tmrvc_speaker")) {
            let e = $0 as! SpeakerFileError
            XCTAssertEqual(e.path, "v.tmrvc_speaker")
            XCTAssertTrue(e.reason.contains("checksum"), e.reason)
        }
        XCTAssertThrowsError(try SpeakerProfile(bytes: Array(good.dropLast(5)), path: "t")) {
            XCTAssertTrue(($0 as! SpeakerFileError).reason.contains("truncated"))
        }
        XCTAssertThrowsError(try SpeakerProfile(bytes: Array(good[0..<20]), path: "t")) {
            XCTAssertTrue(($0 as! SpeakerFileError).reason.contains("header"))
        }
        var magic = good
        magic[0] = 0x58
        XCTAssertThrowsError(try SpeakerProfile(bytes: magic, path: "t")) {
            XCTAssertTrue(($0 as! SpeakerFileError).reason.contains("magic"))
        }
    }

    func testOtherModelVersionIsRejected() throws {
        var bytes = try profile().encoded()
        bytes[16] = 0; bytes[17] = 1  // spk dim 256
        XCTAssertThrowsError(try SpeakerProfile(bytes: bytes, path: "old.tmrvc_speaker")) {
            let reason = ($0 as! SpeakerFileError).reason
            XCTAssertTrue(reason.contains("another model version"), reason)
        }
        XCTAssertThrowsError(try SpeakerProfile(embedding: [1, 2], loraDelta: []).encoded())
    }

    func testAtomicWriteLeavesNoFileOnFailure() throws {
        let dir = NSTemporaryDirectory() + "tmrvc-spk-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.tmrvc_speaker"
        try profile().write(to: path)
        XCTAssertEqual(try SpeakerProfile(contentsOf: path), profile())
        XCTAssertThrowsError(try profile().write(to: dir + "/missing/b.tmrvc_speaker"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.tmrvc_speaker"])
    }
}
