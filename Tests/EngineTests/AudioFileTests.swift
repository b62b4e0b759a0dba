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

    /// The streaming reader returns the same mono samples block by block as `read` does at once
    /// (stereo mixed down); a writer dropped before `finish` leaves nothing; a non-finite sample is
    /// an error naming its frame.
    func testStreamingReaderAndWriter() throws {
        let n = 10_000
        let x = (0..<n).map { Float(sin(Double($0) * 0.01)) * 0.5 }
        let writer = try AudioFileWriter(path: dir + "/s.wav", sampleRate: 24000, format: .float32)
        try x.withUnsafeBufferPointer { b in
            var pos = 0
            for size in [1, 999, 4096, 3000, 4096] where pos < n {
                let m = min(size, n - pos)
                try writer.write(b.baseAddress! + pos, count: m)
                pos += m
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/s.wav"), "nothing at the path before finish")
        try writer.finish()
        let reader = try AudioFileReader(path: dir + "/s.wav")
        XCTAssertEqual(reader.frames, n)
        var y = [Float](repeating: 0, count: n)
        var got = 0
        try y.withUnsafeMutableBufferPointer { b in
            while true {
                let k = try reader.read(into: b.baseAddress! + got, maxFrames: min(777, n - got))
                if k == 0 { break }
                got += k
            }
        }
        XCTAssertEqual(got, n)
        XCTAssertEqual(y, x)
        XCTAssertEqual(try AudioFile.read(path: dir + "/s.wav").samples, x)
        // Dropped unfinished: no file, no temporary.
        do {
            let w = try AudioFileWriter(path: dir + "/dropped.wav", sampleRate: 24000)
            try x.withUnsafeBufferPointer { try w.write($0.baseAddress!, count: 100) }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["s.wav"])
        // A NaN in the middle of a file: the error names the frame.
        var bad = x
        bad[5000] = .nan
        try AudioFile.write(bad, sampleRate: 24000, to: dir + "/nan.wav", format: .float32)
        let r = try AudioFileReader(path: dir + "/nan.wav")
        var buffer = [Float](repeating: 0, count: 4096)
        XCTAssertEqual(try buffer.withUnsafeMutableBufferPointer { try r.read(into: $0.baseAddress!, maxFrames: 4096) }, 4096)
        XCTAssertThrowsError(try buffer.withUnsafeMutableBufferPointer { try r.read(into: $0.baseAddress!, maxFrames: 4096) }) {
            XCTAssertTrue(($0 as! AudioFileError).reason.contains("non-finite samples (first at frame 5000)"), "\($0)")
        }
    }
}
