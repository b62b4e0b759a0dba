// libFuzzer target for the ONNX reader and the load-time compiler.
//
// Build and run with `tools/fuzz.sh [seconds]` (`swift build --sanitize fuzzer --sanitize address`);
// libFuzzer supplies `main`. A normal `swift build` compiles this file into an executable that does
// nothing (there is no top-level code), so the target never breaks the ordinary build.

import ONNXFormat
import TMRVCRuntime

/// Symbolic and unknown input dimensions are bound to this size.
let symbolicDimension = 2

/// Decodes `data` as an ONNX model and, if that succeeds, compiles it (with constant folding)
/// and runs it once on inputs filled from the same bytes. Errors are expected; crashes, sanitizer reports, hangs and
/// runaway memory are bugs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // A path in a directory that does not exist: external-data locations never resolve to real files.
    let file = MappedFile(copying: UnsafeRawBufferPointer(start: data, count: size), name: "/nonexistent-fuzz-dir/fuzz.onnx")
    let model: ONNXModel
    do { model = try ONNXModel.decode(file: file) } catch { return 0 }

    var shapes: [String: [Int]] = [:]
    let initializerNames = Set(model.graph.initializers.map(\.name))
    for input in model.graph.inputs where !initializerNames.contains(input.name) {
        shapes[input.name] = (input.shape ?? [.unknown]).map {
            if case .value(let v) = $0 { return v } else { return symbolicDimension }
        }
    }
    // The production limits (SessionOptions' defaults: 16M elements per tensor, 1 GiB per
    // session), so the fuzzer reaches exactly the checks `tmrvc convert` and `inspect` rely on.
    let options = SessionOptions(inputShapes: shapes)
    guard let session = try? InferenceSession(model: model, options: options) else { return 0 }
    // Fill the inputs with the file's own bytes (cycled) rather than zeros, so that run-time
    // values such as gather indices or NaNs reach the kernels too.
    if size > 0, let data {
        var k = 0
        for input in session.inputs {
            let p = input.data.assumingMemoryBound(to: UInt8.self)
            for i in 0..<input.byteCount {
                p[i] = data[k]
                k = k + 1 == size ? 0 : k + 1
            }
        }
    }
    session.run()
    return 0
}
