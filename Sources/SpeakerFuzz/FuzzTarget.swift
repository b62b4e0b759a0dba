// libFuzzer target for the `.tmrvc_speaker` reader (`tools/fuzz.sh SECONDS SpeakerFuzz`).
// A normal `swift build` compiles this file into an executable that does nothing.

import TMRVCEngine

/// Parses `data` as a speaker file. Errors are expected; a crash, a sanitizer report, a hang, or
/// an accepted file that does not survive re-encoding (same values back) is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let profile = try? SpeakerProfile(bytes: bytes, path: "fuzz.tmrvc_speaker") else { return 0 }
    guard let encoded = try? profile.encoded(), let again = try? SpeakerProfile(bytes: encoded, path: "re-encoded"), again == profile else {
        fatalError("an accepted speaker file does not survive re-encoding")
    }
    return 0
}
