#if canImport(Glibc)
import Glibc
#endif
import CSndFile

/// Audio that could not be read or written, naming the file and the problem.
public struct AudioFileError: Error, CustomStringConvertible, Sendable {
    /// The file.
    public let path: String
    /// What is wrong.
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// Mono float audio read from any format libsndfile understands.
public struct AudioBuffer: Sendable {
    /// Samples in [-1, 1] (multi-channel input is mixed down by averaging the channels).
    public var samples: [Float]
    /// Sample rate in Hz.
    public var sampleRate: Int
    /// Channels in the source file (before mixdown).
    public var sourceChannels: Int

    public init(samples: [Float], sampleRate: Int, sourceChannels: Int = 1) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.sourceChannels = sourceChannels
    }

    /// Duration in seconds.
    public var duration: Double { Double(samples.count) / Double(sampleRate) }
}

/// Reading and atomic writing of audio files through libsndfile.
public enum AudioFile {
    /// Reads `path`, mixing every channel down to mono. Empty and truncated files are errors.
    public static func read(path: String) throws(AudioFileError) -> AudioBuffer {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            let reason = String(cString: sf_strerror(nil))
            var st = stat()
            if stat(path, &st) != 0 { throw AudioFileError(path: path, reason: "no such file") }
            throw AudioFileError(path: path, reason: "not a readable audio file (\(reason))")
        }
        defer { sf_close(file) }
        let channels = Int(info.channels), frames = Int(info.frames)
        guard channels > 0, info.samplerate > 0 else { throw AudioFileError(path: path, reason: "invalid header (channels \(channels), rate \(info.samplerate))") }
        // libsndfile silently shortens a file whose chunk sizes exceed its length; its log says so.
        var log = [CChar](repeating: 0, count: 8192)
        _ = log.withUnsafeMutableBufferPointer { sf_command(file, Int32(SFC_GET_LOG_INFO), $0.baseAddress, Int32($0.count)) }
        let logText = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let line = logText.split(separator: "\n").first(where: { $0.contains("should be") && !$0.hasPrefix("RIFF") }) {
            throw AudioFileError(path: path, reason: "truncated or corrupt: chunk sizes disagree with the file length (\(line.trimmingSpaces))")
        }
        guard frames > 0 else { throw AudioFileError(path: path, reason: "contains no audio frames") }
        var interleaved = [Float](repeating: 0, count: frames * channels)
        let got = interleaved.withUnsafeMutableBufferPointer { Int(sf_readf_float(file, $0.baseAddress, sf_count_t(frames))) }
        guard got == frames else {
            throw AudioFileError(path: path, reason: "truncated: the header announces \(frames) frames but only \(got) could be read")
        }
        var mono = [Float](repeating: 0, count: frames)
        if channels == 1 {
            mono = interleaved
        } else {
            let scale = 1 / Float(channels)
            for i in 0..<frames {
                var acc: Float = 0
                for c in 0..<channels { acc += interleaved[i * channels + c] }
                mono[i] = acc * scale
            }
        }
        for x in mono where !x.isFinite { throw AudioFileError(path: path, reason: "contains non-finite samples") }
        return AudioBuffer(samples: mono, sampleRate: Int(info.samplerate), sourceChannels: channels)
    }

    /// Output sample formats.
    public enum Format: Sendable {
        /// 16-bit PCM WAV.
        case pcm16
        /// 32-bit float WAV.
        case float32
    }

    /// Checks that `path` can be written as an output: its directory exists, and it is a new file
    /// or an existing regular file (not a device node, directory or symbolic link, which the
    /// atomic rename would replace). ``write(_:sampleRate:to:format:)`` checks it too; call it
    /// before long work to fail early.
    public static func checkOutputPath(_ path: String) throws(AudioFileError) {
        let dir: String = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var st = stat()
        guard stat(dir.isEmpty ? "/" : dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw AudioFileError(path: path, reason: "the output directory '\(dir)' does not exist")
        }
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
            let kind = (st.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link" : (st.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file (a device or pipe)"
            throw AudioFileError(path: path, reason: "is \(kind); write to a regular file path")
        }
    }

    /// Writes mono audio to `path` atomically: a temporary file in the same directory, synced to
    /// disk and renamed into place only when complete; on any failure, and on SIGINT/SIGTERM during
    /// the write, nothing is left behind. `path` must be a new file or an existing regular file:
    /// device nodes, directories and symbolic links are refused (the rename would replace them).
    public static func write(_ samples: [Float], sampleRate: Int, to path: String, format: Format = .pcm16) throws(AudioFileError) {
        try checkOutputPath(path)
        let tmp = path + ".partial-\(getpid())"
        PartialFileCleanup.arm(tmp)
        defer { PartialFileCleanup.disarm() }
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = 1
        info.format = Int32(SF_FORMAT_WAV) | (format == .pcm16 ? Int32(SF_FORMAT_PCM_16) : Int32(SF_FORMAT_FLOAT))
        guard let file = sf_open(tmp, Int32(SFM_WRITE), &info) else {
            throw AudioFileError(path: path, reason: "cannot create: \(String(cString: sf_strerror(nil)))")
        }
        if format == .pcm16 { sf_command(file, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE)) }
        let written = samples.withUnsafeBufferPointer { Int(sf_writef_float(file, $0.baseAddress, sf_count_t(samples.count))) }
        sf_write_sync(file)                       // fsync before the rename
        let closeStatus = sf_close(file)
        guard written == samples.count, closeStatus == 0 else {
            unlink(tmp)
            throw AudioFileError(path: path, reason: "write failed after \(written) of \(samples.count) frames")
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw AudioFileError(path: path, reason: "cannot move the finished file into place: \(reason)")
        }
    }
}

/// Removes the temporary file of a write in progress when SIGINT or SIGTERM arrives, then exits
/// with 128 + the signal (the handler only calls async-signal-safe `unlink`, `signal`, `_exit`).
enum PartialFileCleanup {
    nonisolated(unsafe) static var path = UnsafeMutablePointer<CChar>.allocate(capacity: 4097)
    nonisolated(unsafe) static var previous: [Int32: sighandler_t?] = [:]

    static func arm(_ tmp: String) {
        let bytes = Array(tmp.utf8.prefix(4096))
        for (i, b) in bytes.enumerated() { path[i] = CChar(bitPattern: b) }
        path[bytes.count] = 0
        for sig in [SIGINT, SIGTERM] {
            previous[sig] = signal(sig) { sig in
                unlink(PartialFileCleanup.path)
                _exit(128 + sig)
            }
        }
    }

    static func disarm() {
        for (sig, handler) in previous { signal(sig, handler ?? SIG_DFL) }
        previous = [:]
        path[0] = 0
    }
}

extension Substring {
    var trimmingSpaces: String { String(drop { $0 == " " }) }
}
