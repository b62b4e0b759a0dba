import XCTest
import TMRVCConstants
@testable import TMRVCEngine

final class SpeakerFileTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func profile(preset: Bool = true, pitch: PitchStatistics? = nil) -> SpeakerProfile {
        SpeakerProfile(embedding: (0..<TMRVCConstants.Dims.speaker).map { Float($0 % 4) * 0.0625 },   // L2 norm 1.62
                       loraDelta: (0..<TMRVCConstants.Lora.deltaSize).map { Float($0 % 7) * 0.01 },
                       voiceSourcePreset: preset ? [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] : nil,
                       metadataJSON: #"{"name":"test"}"#, pitchStatistics: pitch)
    }

    func testRoundTripWithAndWithoutPresetAndPitchStatistics() throws {
        for preset in [true, false] {
            for pitch in [nil, PitchStatistics(mean: 0.25, std: 0.125)] {
                let p = profile(preset: preset, pitch: pitch)
                let back = try SpeakerProfile(bytes: try p.encoded(), path: "mem")
                XCTAssertEqual(back, p)
            }
        }
    }

    /// Byte identity with `tools/tmrvc/speaker_file.py`: length and zlib CRC-32 of the whole file
    /// that `SpeakerProfile(...).encode()` writes for the same profiles (computed with the Python
    /// writer: embedding (arange(192) % 4) * 0.0625, lora (arange(4096) % 7) * 0.01 in float32, metadata
    /// {"name": "test"}).
    func testBytesMatchThePythonWriter() throws {
        let cases: [(Bool, PitchStatistics?, Int, UInt32)] = [
            (true, PitchStatistics(mean: 0.25, std: 0.125), 17271, 0x955F_8750),
            (false, PitchStatistics(mean: -0.4, std: 0.15), 17239, 0xBC04_8A1F),
            (true, nil, 17263, 0xBE4F_A77C),
            (false, nil, 17231, 0xEC6D_6120),
        ]
        for (preset, pitch, size, crc) in cases {
            let bytes = try profile(preset: preset, pitch: pitch).encoded()
            XCTAssertEqual(bytes.count, size)
            XCTAssertEqual(CRC32.checksum(bytes), crc, "preset \(preset), pitch \(String(describing: pitch))")
            XCTAssertEqual(bytes[8], 2, "the writer writes version 2")
            XCTAssertEqual(bytes[28], (preset ? 1 : 0) | (pitch == nil ? 0 : 2), "flags")
        }
    }

    /// Version-1 files still load (no pitch statistics); flag bit 1 is not allowed in version 1;
    /// unknown versions are rejected.
    func testVersionOneStillLoads() throws {
        func withVersion(_ v: UInt8, flags: UInt8? = nil, _ p: SpeakerProfile) throws -> [UInt8] {
            var b = try p.encoded()
            b[8] = v
            if let flags { b[28] = flags }
            for i in 0..<4 { b[36 + i] = 0 }
            let crc = CRC32.checksum(b)
            withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[36 + i] = $0[i] } }
            return b
        }
        for preset in [true, false] {
            let v1 = try SpeakerProfile(bytes: try withVersion(1, profile(preset: preset)), path: "v1")
            XCTAssertEqual(v1, profile(preset: preset))
            XCTAssertNil(v1.pitchStatistics)
        }
        XCTAssertThrowsError(try SpeakerProfile(bytes: try withVersion(1, profile(pitch: PitchStatistics(mean: 0, std: 0.1))), path: "v1bad")) {
            let reason = ($0 as! SpeakerFileError).reason
            XCTAssertTrue(reason.contains("flag") && reason.contains("version 1"), reason)
        }
        XCTAssertThrowsError(try SpeakerProfile(bytes: try withVersion(2, flags: 4 | 1, profile()), path: "v2bad")) {
            XCTAssertTrue(($0 as! SpeakerFileError).reason.contains("flag"))
        }
        for v: UInt8 in [0, 3] {
            XCTAssertThrowsError(try SpeakerProfile(bytes: try withVersion(v, profile()), path: "v")) {
                XCTAssertTrue(($0 as! SpeakerFileError).reason.contains("version \(v) is not supported"))
            }
        }
    }

    /// The shipped speaker files (written by tools/tmrvc/speaker_file.py) load, and the Swift writer
    /// reproduces them byte for byte (version 2) or up to the version and CRC fields (version 1).
    func testShippedFilesRoundTripThroughTheSwiftWriter() throws {
        for name in ["flite_rms", "fest_ked"] {
            let shipped = Self.root + "/weights/speakers/\(name).tmrvc_speaker"
            let old = try FileIO.readAll(path: shipped)
            let p = try SpeakerProfile(contentsOf: shipped)
            let new = try p.encoded()
            XCTAssertEqual(new.count, old.count, name)
            if old[8] == 1 {
                XCTAssertNil(p.pitchStatistics)
                let differing = (0..<min(new.count, old.count)).filter { new[$0] != old[$0] }
                XCTAssertTrue(Set(differing).isSubset(of: [8, 36, 37, 38, 39]), "\(name): \(differing)")
            } else {
                XCTAssertTrue(new == old, "\(name): the Swift writer does not reproduce the Python-written file")
            }
        }
    }

    func testPitchStatisticsAreValidated() throws {
        for std: Float in [0, -0.1, .nan] {
            XCTAssertThrowsError(try profile(pitch: PitchStatistics(mean: 0, std: std)).encoded()) {
                XCTAssertTrue(($0 as! SpeakerFileError).reason.contains("pitch statistics"))
            }
        }
        XCTAssertThrowsError(try profile(pitch: PitchStatistics(mean: .infinity, std: 0.1)).encoded())
        // A file whose std is not positive (CRC recomputed) is rejected by the reader.
        var b = try profile(preset: false, pitch: PitchStatistics(mean: 0, std: 0.1)).encoded()
        let stdAt = 64 + 4 * (TMRVCConstants.Dims.speaker + TMRVCConstants.Lora.deltaSize + 1)
        withUnsafeBytes(of: Float(-0.5).bitPattern.littleEndian) { for i in 0..<4 { b[stdAt + i] = $0[i] } }
        for i in 0..<4 { b[36 + i] = 0 }
        let crc = CRC32.checksum(b)
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[36 + i] = $0[i] } }
        XCTAssertThrowsError(try SpeakerProfile(bytes: b, path: "neg")) {
            XCTAssertTrue(($0 as! SpeakerFileError).reason.contains("standard deviation"))
        }
    }

    /// Values that pass the CRC but would overflow the converter are refused with the bound
    /// (issue 21, defect 1); an endless or huge file is refused before it is read whole (defect 5).
    func testValueBoundsAndSizeCap() throws {
        func resealed(_ edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
            var b = try profile(preset: true, pitch: PitchStatistics(mean: 0, std: 0.1)).encoded()
            edit(&b)
            for i in 0..<4 { b[36 + i] = 0 }
            let crc = CRC32.checksum(b)
            withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[36 + i] = $0[i] } }
            return b
        }
        func put(_ b: inout [UInt8], _ index: Int, _ v: Float) {
            withUnsafeBytes(of: v.bitPattern.littleEndian) { for i in 0..<4 { b[64 + 4 * index + i] = $0[i] } }
        }
        let dim = TMRVCConstants.Dims.speaker, lora = TMRVCConstants.Lora.deltaSize
        let cases: [(String, (inout [UInt8]) -> Void)] = [
            ("L2 norm", { b in for i in 0..<dim { put(&b, i, 10) } }),                 // embedding of 10s
            ("L2 norm", { b in for i in 0..<dim { put(&b, i, 0) } }),
            ("lora_delta value 5", { b in put(&b, dim + 5, 1e20) }),
            ("voice_source_preset value 2", { b in put(&b, dim + lora + 2, -50) }),
            ("the mean log2", { b in put(&b, dim + lora + 8, 5) }),
            ("standard deviation", { b in put(&b, dim + lora + 9, 3) }),
        ]
        for (message, edit) in cases {
            XCTAssertThrowsError(try SpeakerProfile(bytes: try resealed(edit), path: "bad")) {
                XCTAssertTrue(($0 as! SpeakerFileError).reason.contains(message), "\(message): \($0)")
            }
        }
        XCTAssertNoThrow(try SpeakerProfile(bytes: try resealed { _ in }, path: "good"))
        XCTAssertThrowsError(try SpeakerProfile(contentsOf: "/dev/zero")) {
            XCTAssertTrue(($0 as! SpeakerFileError).reason.contains("larger than the format's maximum"), "\($0)")
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

    /// `tmrvc enroll`'s register statistics against `tmrvc.excitation.log_f0_stats` (values computed
    /// with the Python reference), the std floor and the minimum of 10 voiced frames.
    func testEnrollmentPitchStatisticsMatchPython() throws {
        let s = try SpeakerEnrollment.pitchStatistics(voicedF0: (0..<12).map { 100 + 10 * Double($0) })
        XCTAssertEqual(Double(s.mean), -0.405214067899413, accuracy: 1e-7)
        XCTAssertEqual(Double(s.std), 0.3331758775372557, accuracy: 1e-7)
        let flat = try SpeakerEnrollment.pitchStatistics(voicedF0: [Double](repeating: 150, count: 10))
        XCTAssertEqual(Double(flat.mean), -0.4150374992788438, accuracy: 1e-7)
        XCTAssertEqual(flat.std, 0.02)
        XCTAssertThrowsError(try SpeakerEnrollment.pitchStatistics(voicedF0: [Double](repeating: 150, count: 9))) {
            XCTAssertTrue(($0 as! EngineError).reason.contains("only 9 voiced frames"))
        }
        // On a recording: a 24 kHz harmonic tone at 160 Hz is voiced throughout, at its pitch.
        let x = (0..<24_000).map { i -> Float in
            let t = Double(i) / 24_000
            return Float(0.3 * sin(2 * .pi * 160 * t) + 0.15 * sin(2 * .pi * 320 * t))
        }
        let f0 = SpeakerEnrollment.voicedF0(samples24k: x)
        XCTAssertGreaterThan(f0.count, 90)
        let tone = try SpeakerEnrollment.pitchStatistics(voicedF0: f0)
        XCTAssertEqual(Double(tone.mean), log2(160.0 / 200), accuracy: 0.01)
    }
}
