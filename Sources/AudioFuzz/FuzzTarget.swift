// libFuzzer target for the audio reader: libsndfile through `AudioFileReader`
// (`tools/fuzz.sh SECONDS AudioFuzz`). A normal `swift build` compiles this into an executable
// that does nothing.

#if canImport(Glibc)
import Glibc
#endif
import CMemFD
import TMRVCAudioIO

/// Reads `data` as a sound file, block by block, from an in-memory file (memfd: no disk I/O).
/// Errors are expected; a crash, a sanitizer report, a hang, or a block that exceeds the frames
/// the header announced is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let fd = tmrvc_memfd("fuzz.wav")
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    if size > 0, let data, write(fd, data, size) != size { return 0 }
    guard let reader = try? AudioFileReader(path: "/proc/self/fd/\(fd)") else { return 0 }
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 4096)
    defer { buffer.deallocate() }
    var total = 0
    while let n = try? reader.read(into: buffer, maxFrames: 4096), n > 0 {
        total += n
        if total > reader.frames { fatalError("read more frames than the header announces") }
        for i in 0..<n where !buffer[i].isFinite { fatalError("a non-finite sample passed the reader") }
    }
    return 0
}
