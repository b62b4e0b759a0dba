import Foundation
import XCTest
import TestSupport

/// Runs the built `tmrvc` executable the way a user does and checks exit status, messages and
/// that failed runs leave no output file behind.
final class CLITests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The tmrvc binary next to this test bundle (swift build --build-tests builds it too).
    static var binary: String {
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundlePath
            ?? CommandLine.arguments[0]
        return (bundle as NSString).deletingLastPathComponent + "/tmrvc"
    }

    var dir: String!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            XCTFail("\(Self.binary) not built (run swift build --build-tests)")
            return
        }
        dir = NSTemporaryDirectory() + "tmrvc-cli-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { if let dir { try? FileManager.default.removeItem(atPath: dir) } }

    @discardableResult
    func tmrvc(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try runProcess(Self.binary, args, directory: Self.root)
    }

    let input = "Tests/Fixtures/audio/utt2_en-gb-m3.wav"
    let speaker = "weights/speakers/flite_rms.tmrvc_speaker"

    func testEnrollThenConvert() throws {
        let voice = dir + "/v.tmrvc_speaker", out = dir + "/out.wav"
        let e = try tmrvc(["enroll", "Tests/Fixtures/audio/utt1_en-us-f3.wav", input, "-o", voice, "--name", "test"])
        XCTAssertEqual(e.status, 0, e.err)
        XCTAssertTrue(e.out.contains("2 recording(s)"), e.out)
        XCTAssertTrue(e.out.contains("register") && e.out.contains("voiced frames"), e.out)
        let c = try tmrvc(["convert", input, "-o", out, "--speaker", voice, "--q", "0", "--pitch", "-2"])
        XCTAssertEqual(c.status, 0, c.err)
        XCTAssertTrue(c.out.contains("real-time factor"), c.out)
        XCTAssertTrue(c.out.contains("mapped into the speaker's register"), c.out)
        let bad = try tmrvc(["convert", input, "-o", out, "--speaker", voice, "--register", "octave"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--register"), bad.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["out.wav", "v.tmrvc_speaker"])
    }

    func testBadInputsFailClearlyAndLeaveNothing() throws {
        let out = dir + "/out.wav"
        // Unsupported sample rate.
        let rate22 = dir + "/r22.wav"
        var header = Data("RIFF".utf8)
        let samples = [Int16](repeating: 100, count: 22050)
        func le<T: FixedWidthInteger>(_ v: T) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
        header += le(UInt32(36 + samples.count * 2)) + Data("WAVEfmt ".utf8) + le(UInt32(16)) + le(UInt16(1)) + le(UInt16(1))
        header += le(UInt32(22050)) + le(UInt32(44100)) + le(UInt16(2)) + le(UInt16(16)) + Data("data".utf8) + le(UInt32(samples.count * 2))
        try (header + samples.withUnsafeBytes { Data($0) }).write(to: URL(fileURLWithPath: rate22))
        var r = try tmrvc(["convert", rate22, "-o", out, "--speaker", speaker])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("22050 Hz is not supported"), r.err)
        // Truncated wav.
        let full = try Data(contentsOf: URL(fileURLWithPath: Self.root + "/" + input))
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: dir + "/cut.wav"))
        r = try tmrvc(["convert", dir + "/cut.wav", "-o", out, "--speaker", speaker])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("cut.wav") && r.err.contains("truncated"), r.err)
        // Speaker file of another model version / corrupt.
        var spk = try Data(contentsOf: URL(fileURLWithPath: Self.root + "/" + speaker))
        spk[16] = 0; spk[17] = 1
        try spk.write(to: URL(fileURLWithPath: dir + "/old.tmrvc_speaker"))
        r = try tmrvc(["convert", input, "-o", out, "--speaker", dir + "/old.tmrvc_speaker"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("old.tmrvc_speaker") && r.err.contains("another model version"), r.err)
        // Missing model directory and missing model file.
        r = try tmrvc(["convert", input, "-o", out, "--speaker", speaker, "--models", dir + "/nomodels"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("nomodels"), r.err)
        try FileManager.default.createDirectory(atPath: dir + "/partial", withIntermediateDirectories: true)
        r = try tmrvc(["convert", input, "-o", out, "--speaker", speaker, "--models", dir + "/partial"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("content_encoder.onnx"), r.err)
        // Output in a missing directory.
        r = try tmrvc(["convert", input, "-o", dir + "/missing/out.wav", "--speaker", speaker])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("does not exist"), r.err)
        // Out-of-range and non-finite options name their range (issue 21, defect 8).
        for (option, value, message) in [("--gain", "nan", "--gain must be within -60...24 dB"),
                                         ("--gain", "100", "--gain must be within -60...24 dB"),
                                         ("--gate", "5", "--gate must be within -120...0 dBFS"),
                                         ("--gate", "-inf", "--gate must be within -120...0 dBFS"),
                                         ("--q", "-1", "--q must be within 0...1"),
                                         ("--pitch", "nan", "--pitch must be within -24...24 semitones")] {
            r = try tmrvc(["convert", input, "-o", out, "--speaker", speaker, option, value])
            XCTAssertNotEqual(r.status, 0, "\(option) \(value)")
            XCTAssertTrue(r.err.contains(message), "\(option) \(value): \(r.err)")
        }
        // Output paths that are not regular files, and the input itself (issue 21, defect 6).
        let target = dir + "/target.wav"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: dir + "/outlink.wav", withDestinationPath: target)
        r = try tmrvc(["convert", input, "-o", dir + "/outlink.wav", "--speaker", speaker])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("outlink.wav") && r.err.contains("symbolic link"), r.err)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "keep")
        try FileManager.default.removeItem(atPath: dir + "/outlink.wav")
        try FileManager.default.createDirectory(atPath: dir + "/outdir.wav", withIntermediateDirectories: false)
        r = try tmrvc(["convert", input, "-o", dir + "/outdir.wav", "--speaker", speaker])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("outdir.wav") && r.err.contains("a directory"), r.err)
        try FileManager.default.removeItem(atPath: dir + "/outdir.wav")
        r = try tmrvc(["convert", input, "-o", "/dev/null", "--speaker", speaker])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("/dev/null") && r.err.contains("not a regular file"), r.err)
        let copy = dir + "/in.wav"
        try FileManager.default.copyItem(atPath: Self.root + "/" + input, toPath: copy)
        r = try tmrvc(["convert", copy, "-o", copy, "--speaker", speaker])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("is the input file") && r.err.contains("--force"), r.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: copy)), try Data(contentsOf: URL(fileURLWithPath: Self.root + "/" + input)))
        try FileManager.default.removeItem(atPath: copy)
        try FileManager.default.removeItem(atPath: target)
        // Nothing written by any failed run.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("out") }
        XCTAssertEqual(left, [])
    }

    func testInspectAndParityOnShippedModels() throws {
        let i = try tmrvc(["inspect", "weights/converter.onnx"])
        XCTAssertEqual(i.status, 0, i.err)
        XCTAssertTrue(i.out.contains("kernels per run"), i.out)
        let p = try tmrvc(["parity", "--json", dir + "/parity.json"])
        XCTAssertEqual(p.status, 0, p.err)
        XCTAssertTrue(p.out.contains("converter/stream"), p.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/parity.json"))
        // A corrupt model is reported with its path, never a crash.
        try Data([0x08, 0x07, 0x3A, 0xFF]).write(to: URL(fileURLWithPath: dir + "/bad.onnx"))
        let b = try tmrvc(["inspect", dir + "/bad.onnx"])
        XCTAssertNotEqual(b.status, 0)
        XCTAssertTrue((b.out + b.err).contains("bad.onnx"), b.out + b.err)
    }
}
