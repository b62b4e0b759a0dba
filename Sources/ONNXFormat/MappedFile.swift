#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only file mapped into memory. Tensors read from an ONNX file point into this mapping
/// (zero copy); keep the `MappedFile` alive as long as those tensors are used.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// Start of the mapped bytes (never null; an empty file maps a 1-byte dummy).
    public let bytes: UnsafeRawPointer
    /// Number of bytes in the file.
    public let count: Int
    private let mapped: Bool

    /// Maps `path` read-only. Throws a `FileError` naming the path when it cannot be opened.
    public init(path: String) throws(FileError) {
        self.path = path
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then rejected as not a regular file).
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        count = size
        if size == 0 {
            bytes = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))
            mapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FileError(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        bytes = UnsafeRawPointer(p)
        mapped = true
    }

    /// Wraps a copy of `data` (used for models built in memory, e.g. by tests and the fuzzer).
    public init(copying data: UnsafeRawBufferPointer, name: String) {
        path = name
        count = data.count
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, data.count), alignment: 64)
        if let src = data.baseAddress, data.count > 0 { p.copyMemory(from: src, byteCount: data.count) }
        bytes = UnsafeRawPointer(p)
        mapped = false
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: bytes), count)
        } else {
            UnsafeMutableRawPointer(mutating: bytes).deallocate()
        }
    }
}

/// A file that could not be opened or read.
public struct FileError: Error, CustomStringConvertible, Sendable {
    /// The file's path.
    public let path: String
    /// Why it failed.
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// The canonical absolute path of an existing file (symbolic links resolved), or nil.
func canonicalPath(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
}

/// `strerror(errno)`.
func lastErrorDescription() -> String { String(cString: strerror(errno)) }
