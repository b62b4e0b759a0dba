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

/// Reading and atomic writing of whole audio files through libsndfile (built on
/// ``AudioFileReader`` and ``AudioFileWriter``, which stream).
public enum AudioFile {
    /// Reads `path`, mixing every channel down to mono. Empty and truncated files are errors.
    public static func read(path: String) throws(AudioFileError) -> AudioBuffer {
        let reader = try AudioFileReader(path: path)
        var mono = [Float](repeating: 0, count: reader.frames)
        let got = try mono.withUnsafeMutableBufferPointer { (b) throws(AudioFileError) -> Int in
            try reader.read(into: b.baseAddress!, maxFrames: b.count)
        }
        guard got == reader.frames else {
            throw AudioFileError(path: path, reason: "truncated: the header announces \(reader.frames) frames but only \(got) could be read")
        }
        return AudioBuffer(samples: mono, sampleRate: reader.sampleRate, sourceChannels: reader.sourceChannels)
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
    /// atomic rename would replace). ``AudioFileWriter`` checks it too; call it before long work
    /// to fail early.
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

    /// Writes mono audio to `path` atomically (see ``AudioFileWriter``).
    public static func write(_ samples: [Float], sampleRate: Int, to path: String, format: Format = .pcm16) throws(AudioFileError) {
        let writer = try AudioFileWriter(path: path, sampleRate: sampleRate, format: format)
        try samples.withUnsafeBufferPointer { (b) throws(AudioFileError) in
            if let base = b.baseAddress { try writer.write(base, count: b.count) }
        }
        try writer.finish()
    }
}

/// Reads an audio file block by block, mixed down to mono (memory independent of the length).
/// Truncated files, non-finite samples and empty files are errors naming the file.
public final class AudioFileReader {
    /// The file.
    public let path: String
    /// Sample rate in Hz.
    public let sampleRate: Int
    /// Channels in the file (before the mixdown).
    public let sourceChannels: Int
    /// Frames the header announces.
    public let frames: Int
    /// Frames read so far.
    public private(set) var position = 0
    private let file: OpaquePointer
    private var interleaved: [Float] = []

    public init(path: String) throws(AudioFileError) {
        self.path = path
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            let reason = String(cString: sf_strerror(nil))
            var st = stat()
            if stat(path, &st) != 0 { throw AudioFileError(path: path, reason: "no such file") }
            throw AudioFileError(path: path, reason: "not a readable audio file (\(reason))")
        }
        let channels = Int(info.channels), frames = Int(info.frames)
        guard channels > 0, info.samplerate > 0 else {
            sf_close(file)
            throw AudioFileError(path: path, reason: "invalid header (channels \(channels), rate \(info.samplerate))")
        }
        // libsndfile silently shortens a file whose chunk sizes exceed its length; its log says so.
        var log = [CChar](repeating: 0, count: 8192)
        _ = log.withUnsafeMutableBufferPointer { sf_command(file, Int32(SFC_GET_LOG_INFO), $0.baseAddress, Int32($0.count)) }
        let logText = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let line = logText.split(separator: "\n").first(where: { $0.contains("should be") && !$0.hasPrefix("RIFF") }) {
            sf_close(file)
            throw AudioFileError(path: path, reason: "truncated or corrupt: chunk sizes disagree with the file length (\(line.trimmingSpaces))")
        }
        guard frames > 0 else {
            sf_close(file)
            throw AudioFileError(path: path, reason: "contains no audio frames")
        }
        self.file = file
        self.sampleRate = Int(info.samplerate)
        self.sourceChannels = channels
        self.frames = frames
    }

    deinit { sf_close(file) }

    /// Reads up to `maxFrames` mono frames into `buffer`; returns how many (0 at the end). Throws
    /// if the file ends before the frames its header announces, or holds a non-finite sample.
    public func read(into buffer: UnsafeMutablePointer<Float>, maxFrames: Int) throws(AudioFileError) -> Int {
        let want = min(maxFrames, frames - position)
        guard want > 0 else { return 0 }
        let channels = sourceChannels
        if interleaved.count < want * channels { interleaved = [Float](repeating: 0, count: want * channels) }
        let got = interleaved.withUnsafeMutableBufferPointer { Int(sf_readf_float(file, $0.baseAddress, sf_count_t(want))) }
        guard got == want else {
            throw AudioFileError(path: path, reason: "truncated: the header announces \(frames) frames but only \(position + got) could be read")
        }
        let scale = 1 / Float(channels)
        for i in 0..<got {
            var acc: Float = 0
            for c in 0..<channels { acc += interleaved[i * channels + c] }
            let x = channels == 1 ? acc : acc * scale
            guard x.isFinite else {
                throw AudioFileError(path: path, reason: "contains non-finite samples (first at frame \(position + i))")
            }
            buffer[i] = x
        }
        position += got
        return got
    }
}

/// Writes mono audio block by block to a temporary file in the same directory, which `finish`
/// syncs to disk and renames into place. If the writer is dropped unfinished (an error), or SIGINT
/// or SIGTERM arrives while it is open, the temporary file is removed: a failed write leaves
/// nothing behind. `path` must be a new file or an existing regular file (``AudioFile/checkOutputPath(_:)``).
public final class AudioFileWriter {
    /// The destination.
    public let path: String
    /// Frames written so far.
    public private(set) var written = 0
    private let temporary: String
    private var file: OpaquePointer?

    public init(path: String, sampleRate: Int, format: AudioFile.Format = .pcm16) throws(AudioFileError) {
        try AudioFile.checkOutputPath(path)
        self.path = path
        temporary = path + ".partial-\(getpid())"
        PartialFileCleanup.arm(temporary)
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = 1
        info.format = Int32(SF_FORMAT_WAV) | (format == .pcm16 ? Int32(SF_FORMAT_PCM_16) : Int32(SF_FORMAT_FLOAT))
        guard let file = sf_open(temporary, Int32(SFM_WRITE), &info) else {
            PartialFileCleanup.disarm()
            throw AudioFileError(path: path, reason: "cannot create: \(String(cString: sf_strerror(nil)))")
        }
        if format == .pcm16 { sf_command(file, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE)) }
        self.file = file
    }

    deinit {
        if let file {
            sf_close(file)
            unlink(temporary)
            PartialFileCleanup.disarm()
        }
    }

    /// Appends `count` frames.
    public func write(_ samples: UnsafePointer<Float>, count: Int) throws(AudioFileError) {
        guard let file else { throw AudioFileError(path: path, reason: "write after finish") }
        let n = Int(sf_writef_float(file, samples, sf_count_t(count)))
        written += n
        guard n == count else {
            throw AudioFileError(path: path, reason: "write failed after \(written) frames: \(String(cString: sf_strerror(file)))")
        }
    }

    /// Syncs and closes the temporary file and renames it to `path`.
    public func finish() throws(AudioFileError) {
        guard let f = file else { return }
        file = nil
        defer { PartialFileCleanup.disarm() }
        sf_write_sync(f)                       // fsync before the rename
        guard sf_close(f) == 0 else {
            unlink(temporary)
            throw AudioFileError(path: path, reason: "write failed after \(written) frames")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
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
