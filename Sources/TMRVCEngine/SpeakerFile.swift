#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TMRVCConstants

/// The target's register: mean and standard deviation of `log2(f0 / pitch.f0_ref_hz)` over the voiced
/// frames of its recordings (what the engine's register map moves the input's pitch onto).
public struct PitchStatistics: Sendable, Equatable {
    /// Mean log2(f0 / f0_ref).
    public var mean: Float
    /// Standard deviation of log2(f0 / f0_ref) (> 0).
    public var std: Float

    public init(mean: Float, std: Float) {
        self.mean = mean
        self.std = std
    }
}

/// A target voice: the `.tmrvc_speaker` file format (docs/design/speaker-file.md), version 2.
///
/// Layout (little-endian): a 64-byte header, then `spk_embed` float32[speakerDim], `lora_delta`
/// float32[loraSize], the optional `voice_source_preset` float32[voiceSourceDim] (flag bit 0), the
/// optional pitch statistics float32[2] (flag bit 1, version 2), and UTF-8 JSON metadata. A CRC-32
/// (IEEE) over the whole file with the CRC field zeroed protects it. Version-1 files (no pitch
/// statistics) still load; the writer always writes version 2. Byte-identical to
/// `tools/tmrvc/speaker_file.py`.
public struct SpeakerProfile: Sendable, Equatable {
    /// Speaker embedding, `TMRVCConstants.Dims.speaker` values.
    public var embedding: [Float]
    /// Flattened LoRA delta for the converter's cross-attention K/V, `TMRVCConstants.Lora.deltaSize` values.
    public var loraDelta: [Float]
    /// Optional voice-source preset (`TMRVCConstants.Dims.voiceSource` values) blended into acoustic params.
    public var voiceSourcePreset: [Float]?
    /// Free-form UTF-8 JSON metadata (name, source files, creation tool); "{}" when none.
    public var metadataJSON: String
    /// Optional target register (log2-F0 statistics of the speaker's voiced frames).
    public var pitchStatistics: PitchStatistics?

    /// A profile; sizes are checked when written or read.
    public init(embedding: [Float], loraDelta: [Float], voiceSourcePreset: [Float]? = nil, metadataJSON: String = "{}",
                pitchStatistics: PitchStatistics? = nil) {
        self.embedding = embedding
        self.loraDelta = loraDelta
        self.voiceSourcePreset = voiceSourcePreset
        self.metadataJSON = metadataJSON
        self.pitchStatistics = pitchStatistics
    }

    /// Header size in bytes.
    public static let headerSize = 64
    /// File magic (8 ASCII bytes).
    public static let magic: [UInt8] = Array(TMRVCConstants.SpeakerFile.magic.utf8)
    /// Format version this code writes (it reads 1 ... version).
    public static let version = UInt32(TMRVCConstants.SpeakerFile.version)
    /// Oldest format version this code reads.
    public static let oldestVersion: UInt32 = 1
    /// Flag bit 0: a voice-source preset is present.
    public static let presetFlag: UInt32 = 1
    /// Flag bit 1 (version 2): pitch statistics are present.
    public static let pitchFlag: UInt32 = 2
    /// Byte offset of the CRC field in the header.
    static let crcOffset = 36
    /// Largest metadata block accepted (bytes).
    public static let maximumMetadataSize = 1 << 20
    /// Largest file accepted: header, every value block at its full size, maximum metadata.
    public static let maximumFileSize = headerSize
        + 4 * (TMRVCConstants.Dims.speaker + TMRVCConstants.Lora.deltaSize + TMRVCConstants.Dims.voiceSource + 2)
        + maximumMetadataSize
    /// Accepted L2 norm of `spk_embed` (training and enrollment write unit-norm embeddings).
    public static let embeddingNormRange: ClosedRange<Float> = 0.5...2
    /// Largest |value| of `lora_delta` (trained deltas stay below 0.4).
    public static let loraMaximumMagnitude: Float = 4
    /// Largest |value| of `voice_source_preset` (descriptors of order 1).
    public static let voiceSourceMaximumMagnitude: Float = 8
    /// Accepted pitch statistics: mean log2(f0 / f0_ref) within the estimator's F0 range, std in (0, 2].
    public static let pitchMeanRange: ClosedRange<Float> =
        Float(log2(TMRVCConstants.Pitch.f0MinHz / TMRVCConstants.Pitch.f0RefHz))...Float(log2(TMRVCConstants.Pitch.f0MaxHz / TMRVCConstants.Pitch.f0RefHz))
    /// Largest pitch standard deviation (octaves).
    public static let pitchMaximumStd: Float = 2

    /// Serializes the profile. Throws when a vector has the wrong size or a value is outside the
    /// format's bounds (the reader's checks).
    public func encoded() throws(SpeakerFileError) -> [UInt8] {
        let path = "<speaker profile>"
        guard embedding.count == TMRVCConstants.Dims.speaker else {
            throw SpeakerFileError(path: path, reason: "spk_embed has \(embedding.count) values, the models need \(TMRVCConstants.Dims.speaker)")
        }
        guard loraDelta.count == TMRVCConstants.Lora.deltaSize else {
            throw SpeakerFileError(path: path, reason: "lora_delta has \(loraDelta.count) values, the models need \(TMRVCConstants.Lora.deltaSize)")
        }
        if let v = voiceSourcePreset, v.count != TMRVCConstants.Dims.voiceSource {
            throw SpeakerFileError(path: path, reason: "voice_source_preset has \(v.count) values, the models need \(TMRVCConstants.Dims.voiceSource)")
        }
        let pitch = pitchStatistics.map { [$0.mean, $0.std] } ?? []
        if let p = pitchStatistics, !(p.std > 0) {
            throw SpeakerFileError(path: path, reason: "pitch statistics must be (mean, std > 0)")
        }
        for x in embedding + loraDelta + (voiceSourcePreset ?? []) + pitch where !x.isFinite {
            throw SpeakerFileError(path: path, reason: "profile contains a non-finite value")
        }
        let meta = Array(metadataJSON.utf8)
        var out = [UInt8]()
        out.reserveCapacity(Self.headerSize + 4 * (embedding.count + loraDelta.count + 8 + 2) + meta.count)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        out += Self.magic
        u32(Self.version)
        u32(UInt32(Self.headerSize))
        u32(UInt32(embedding.count))
        u32(UInt32(loraDelta.count))
        u32(UInt32(voiceSourcePreset?.count ?? 0))
        u32((voiceSourcePreset == nil ? 0 : Self.presetFlag) | (pitchStatistics == nil ? 0 : Self.pitchFlag))
        u32(UInt32(meta.count))
        u32(0)  // CRC, filled below
        while out.count < Self.headerSize { out.append(0) }
        for x in embedding + loraDelta + (voiceSourcePreset ?? []) + pitch { u32(x.bitPattern) }
        out += meta
        let crc = CRC32.checksum(out)
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { out[Self.crcOffset + i] = $0[i] } }
        _ = try SpeakerProfile(bytes: out, path: path)     // the reader's checks (value bounds): nothing unreadable is written
        return out
    }

    /// Parses and validates a serialized profile; `path` names the source in errors.
    public init(bytes: [UInt8], path: String) throws(SpeakerFileError) {
        func fail(_ reason: String) -> SpeakerFileError { SpeakerFileError(path: path, reason: reason) }
        guard bytes.count >= Self.headerSize else { throw fail("file is \(bytes.count) bytes, shorter than the \(Self.headerSize)-byte header (truncated or not a speaker file)") }
        guard Array(bytes[0..<8]) == Self.magic else { throw fail("not a .tmrvc_speaker file (bad magic)") }
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        let version = u32(8)
        guard (Self.oldestVersion...Self.version).contains(version) else {
            throw fail("format version \(version) is not supported (this build reads versions \(Self.oldestVersion)...\(Self.version))")
        }
        let headerSize = Int(u32(12))
        guard headerSize == Self.headerSize else { throw fail("header size \(headerSize) is invalid (expected \(Self.headerSize))") }
        let dim = Int(u32(16)), lora = Int(u32(20)), vs = Int(u32(24)), flags = u32(28), metaCount = Int(u32(32))
        guard dim == TMRVCConstants.Dims.speaker else {
            throw fail("spk_embed has \(dim) values but these models need \(TMRVCConstants.Dims.speaker) (file made for another model version)")
        }
        guard lora == TMRVCConstants.Lora.deltaSize else {
            throw fail("lora_delta has \(lora) values but these models need \(TMRVCConstants.Lora.deltaSize) (file made for another model version)")
        }
        let hasPreset = flags & Self.presetFlag != 0
        let hasPitch = flags & Self.pitchFlag != 0
        let known = Self.presetFlag | (version >= 2 ? Self.pitchFlag : 0)
        guard flags & ~known == 0 else {
            throw fail("unknown flag bits 0x\(String(flags & ~known, radix: 16)) for format version \(version)")
        }
        guard vs == (hasPreset ? TMRVCConstants.Dims.voiceSource : 0) else {
            throw fail("voice_source_preset has \(vs) values (expected \(hasPreset ? TMRVCConstants.Dims.voiceSource : 0))")
        }
        guard metaCount <= Self.maximumMetadataSize else {
            throw fail("metadata of \(metaCount) bytes exceeds the format's maximum of \(Self.maximumMetadataSize)")
        }
        let pitchCount = hasPitch ? 2 : 0
        let floats = dim + lora + vs + pitchCount
        let expected = Self.headerSize + 4 * floats + metaCount
        guard bytes.count == expected else {
            throw fail("file is \(bytes.count) bytes but its header describes \(expected) (truncated or corrupt)")
        }
        var zeroed = bytes
        for i in 0..<4 { zeroed[Self.crcOffset + i] = 0 }
        let stored = u32(Self.crcOffset)
        let actual = CRC32.checksum(zeroed)
        guard stored == actual else { throw fail("checksum mismatch (stored 0x\(String(stored, radix: 16)), computed 0x\(String(actual, radix: 16))): the file is corrupt") }
        var values = [Float]()
        values.reserveCapacity(floats)
        for i in 0..<floats {
            let v = Float(bitPattern: u32(Self.headerSize + 4 * i))
            guard v.isFinite else { throw fail("value \(i) is not finite") }
            values.append(v)
        }
        if hasPitch && !(values[floats - 1] > 0 && values[floats - 1] <= Self.pitchMaximumStd) {
            throw fail("pitch statistics: the standard deviation must be within (0, \(Self.pitchMaximumStd)] octaves (it is \(values[floats - 1]))")
        }
        if hasPitch && !Self.pitchMeanRange.contains(values[floats - 2]) {
            throw fail("pitch statistics: the mean log2(f0 / \(TMRVCConstants.Pitch.f0RefHz) Hz) must be within \(Self.pitchMeanRange) (it is \(values[floats - 2]))")
        }
        embedding = Array(values[0..<dim])
        loraDelta = Array(values[dim..<(dim + lora)])
        voiceSourcePreset = hasPreset ? Array(values[(dim + lora)..<(dim + lora + vs)]) : nil
        let norm = embedding.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard Self.embeddingNormRange.contains(norm) else {
            throw fail("spk_embed has L2 norm \(norm), outside \(Self.embeddingNormRange) (speaker embeddings are unit vectors)")
        }
        if let worst = loraDelta.firstIndex(where: { abs($0) > Self.loraMaximumMagnitude }) {
            throw fail("lora_delta value \(worst) is \(loraDelta[worst]), outside ±\(Self.loraMaximumMagnitude) (trained deltas stay below 0.4)")
        }
        if let v = voiceSourcePreset, let worst = v.firstIndex(where: { abs($0) > Self.voiceSourceMaximumMagnitude }) {
            throw fail("voice_source_preset value \(worst) is \(v[worst]), outside ±\(Self.voiceSourceMaximumMagnitude)")
        }
        pitchStatistics = hasPitch ? PitchStatistics(mean: values[floats - 2], std: values[floats - 1]) : nil
        metadataJSON = String(decoding: bytes[(Self.headerSize + 4 * floats)...], as: UTF8.self)
    }

    /// Reads and validates a `.tmrvc_speaker` file.
    public init(contentsOf path: String) throws(SpeakerFileError) {
        let bytes = try FileIO.readAll(path: path, maximumSize: Self.maximumFileSize)
        try self.init(bytes: bytes, path: path)
    }

    /// Writes the profile atomically (temporary file in the same directory, then rename).
    public func write(to path: String) throws(SpeakerFileError) {
        let bytes = try encoded()
        do { try FileIO.writeAtomically(bytes, to: path) } catch { throw SpeakerFileError(path: path, reason: error.reason) }
    }
}

/// A speaker file that could not be read, validated or written.
public struct SpeakerFileError: Error, CustomStringConvertible, Sendable {
    /// The file.
    public let path: String
    /// What is wrong.
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's crc32.
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

/// Whole-file reads and atomic writes through the C library (no Foundation).
public enum FileIO {
    /// Reads a whole file, refusing one longer than `maximumSize` bytes before reading past it
    /// (so `/dev/zero` or a huge file is an error, not an allocation failure).
    public static func readAll(path: String, maximumSize: Int = Int.max) throws(SpeakerFileError) -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw SpeakerFileError(path: path, reason: String(cString: strerror(errno))) }
        defer { fclose(f) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, 65536, f) }
            out += chunk[0..<n]
            if out.count > maximumSize {
                throw SpeakerFileError(path: path, reason: "larger than the format's maximum of \(maximumSize) bytes (not a speaker file)")
            }
            if n < 65536 {
                if ferror(f) != 0 { throw SpeakerFileError(path: path, reason: "read error") }
                break
            }
        }
        return out
    }

    /// Writes `bytes` to `path` via a temporary file in the same directory and `rename`, so a
    /// reader never sees a partial file and a failed write leaves nothing behind.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(SpeakerFileError) {
        let tmp = path + ".tmp-\(getpid())"
        guard let f = fopen(tmp, "wb") else {
            throw SpeakerFileError(path: path, reason: "cannot create file: \(String(cString: strerror(errno)))")
        }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        fclose(f)
        guard written == bytes.count, flushed else {
            unlink(tmp)
            throw SpeakerFileError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw SpeakerFileError(path: path, reason: "rename failed: \(reason)")
        }
    }
}
