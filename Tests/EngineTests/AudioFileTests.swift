import Foundation
import XCTest
import TMRVCAudioIO

final class AudioFileTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "tmrvc-audio-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testRoundTripFloatAndPCM16() throws {
        let x = (0..<4800).map { Float(sin(Double($0) * 0.05)) * 0.5 }
        try AudioFile.write(x, sampleRate: 24000, to: dir + "/f.wav", format: .float32)
        let f = try AudioFile.read(path: dir + "/f.wav")
        XCTAssertEqual(f.sampleRate, 24000)
        XCTAssertEqual(f.samples, x)
        try AudioFile.write(x, sampleRate: 48000, to: dir + "/p.wav")
        let p = try AudioFile.read(path: dir + "/p.wav")
        XCTAssertEqual(p.samples.count, x.count)
        XCTAssertLessThan(zip(p.samples, x).map { abs($0 - $1) }.max()!, 1.0 / 32768 + 1e-6)
    }

    func testTruncatedEmptyAndMissingFilesAreNamed() throws {
        let x = [Float](repeating: 0.1, count: 10000)
        try AudioFile.write(x, sampleRate: 24000, to: dir + "/a.wav")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.wav"))
        try bytes.prefix(bytes.count - 5000).write(to: URL(fileURLWithPath: dir + "/cut.wav"))
        XCTAssertThrowsError(try AudioFile.read(path: dir + "/cut.wav")) {
            let e = $0 as! AudioFileError
            XCTAssertTrue(e.path.hasSuffix("cut.wav"))
            XCTAssertTrue(e.reason.contains("truncated"), e.reason)
        }
        try AudioFile.write([], sampleRate: 24000, to: dir + "/empty.wav")
        XCTAssertThrowsError(try AudioFile.read(path: dir + "/empty.wav")) {
            XCTAssertTrue(($0 as! AudioFileError).reason.contains("no audio"))
        }
        XCTAssertThrowsError(try AudioFile.read(path: dir + "/nope.wav")) {
            XCTAssertTrue(($0 as! AudioFileError).reason.contains("no such file"))
        }
        try Data("not audio at all".utf8).write(to: URL(fileURLWithPath: dir + "/junk.wav"))
        XCTAssertThrowsError(try AudioFile.read(path: dir + "/junk.wav"))
    }

    func testWriteIntoMissingDirectoryLeavesNothing() throws {
        XCTAssertThrowsError(try AudioFile.write([0, 0], sampleRate: 24000, to: dir + "/missing/out.wav")) {
            XCTAssertTrue(($0 as! AudioFileError).reason.contains("does not exist"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}
