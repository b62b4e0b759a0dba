import Foundation
import ONNXFormat
import TMRVCRuntime
import TMRVCEngine

/// One line of a parity report: our output against ONNX Runtime's for one output of one case.
public struct ParityRow: Codable, Sendable {
    /// Case name, e.g. `converter/stream`.
    public var caseName: String
    /// Output (or state) name.
    public var output: String
    /// Largest |ours - reference| over every element of every frame.
    public var maxAbsError: Double
    /// Largest |ours - reference| / max(|reference|, 1e-4).
    public var maxRelError: Double
    /// Frame (stream) or call index where the largest absolute error occurred; 0 for single calls.
    public var worstFrame: Int
    /// Frames or calls compared.
    public var frames: Int
    /// The reference value at the element with the largest absolute error.
    public var referenceAtWorst: Double = 0
    /// Allowed max abs error.
    public var tolerance: Double
    /// When set, a row whose max abs error exceeds `tolerance` still passes if its max relative
    /// error is at most this (for outputs whose error scales with the value, such as an `exp`).
    public var relativeTolerance: Double? = nil
    /// Whether `maxAbsError <= tolerance`, or `maxRelError <= relativeTolerance` when that is set.
    public var passed: Bool { maxAbsError <= tolerance || passedByRelativeBar }
    /// Whether the row passes only through `relativeTolerance`.
    public var passedByRelativeBar: Bool {
        maxAbsError > tolerance && relativeTolerance.map { maxRelError <= $0 } == true
    }
}

/// Accumulates error statistics for one output.
public struct ErrorAccumulator {
    public private(set) var maxAbs = 0.0
    public private(set) var maxRel = 0.0
    public private(set) var worstFrame = 0
    /// The reference value at the element with the largest absolute error.
    public private(set) var referenceAtWorst = 0.0
    public private(set) var frames = 0
    public init() {}

    /// Compares `got` with `want` (same element count) for one frame.
    public mutating func add(frame: Int, got: UnsafeBufferPointer<Float>, want: UnsafeBufferPointer<Float>) {
        frames += 1
        for i in 0..<min(got.count, want.count) {
            let a = Double(got[i]), b = Double(want[i])
            var d = abs(a - b)
            if a.isNaN != b.isNaN || (a.isInfinite || b.isInfinite) && a != b { d = .infinity }
            if d > maxAbs || (d.isNaN && !maxAbs.isNaN) { maxAbs = d; worstFrame = frame; referenceAtWorst = b }
            maxRel = max(maxRel, d / max(abs(b), 1e-4))
        }
    }

    /// A finished row.
    public func row(caseName: String, output: String, tolerance: Double) -> ParityRow {
        var row = ParityRow(caseName: caseName, output: output, maxAbsError: maxAbs, maxRelError: maxRel,
                            worstFrame: worstFrame, frames: frames, tolerance: tolerance)
        row.referenceAtWorst = referenceAtWorst
        return row
    }
}

/// Runs the committed fixtures (Tests/Fixtures/manifest.json) through the Swift runtime.
public enum FixtureParity {
    struct Manifest: Decodable {
        let format: String
        let tolerance: Tolerance
        let cases: [Case]
    }
    /// A case's bar: `max_abs` for every output, unless `per_output` names the output.
    struct Tolerance: Decodable { let max_abs: Double; let per_output: [String: Double]? }
    struct Case: Decodable {
        let name: String
        let kind: String
        let model: String?
        let model_file: String?
        let model_sha256: String?
        let inputs: [Item]
        let outputs: [Item]
        let states: [Item]?
        let state_frames: [Int]?
        let n_frames: Int?
        let n_calls: Int?
        let T: Int?
        let tolerance: Tolerance?
        let informational: Bool?
    }
    struct Item: Decodable {
        let name: String
        let file: String
        let per_frame: Bool?
        let per_call: Bool?
    }

    /// A fixture set that cannot be run.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Inputs the converter treats as slowly changing (hoisted by the runtime).
    public static let slowInputs: Set<String> = ["spk_embed", "lora_delta", "acoustic_params"]

    /// Runs every model case (stream, chunk, call, calls) of the manifest in `fixturesDir`; model
    /// files are resolved against `repositoryRoot`. Front-end cases are skipped (DSP tests cover them).
    ///
    /// `weightStorage` `.float16` runs every model with fp16 weight storage (the manifest's fp32
    /// tolerance then does not apply; callers compare with their own bar).
    public static func run(fixturesDir: String, repositoryRoot: String, only: Set<String>? = nil,
                           weightStorage: WeightStorage = .float32,
                           progress: (String) -> Void = { _ in }) throws -> [ParityRow] {
        let manifestPath = fixturesDir + "/manifest.json"
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: manifestPath)) } catch {
            throw Failure(description: "\(manifestPath): cannot read (\(error.localizedDescription))")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw Failure(description: "\(manifestPath): not a fixture manifest (\(error))")
        }
        var rows: [ParityRow] = []
        for c in manifest.cases {
            guard let model = c.model, let modelFile = c.model_file else { continue }
            if let only, !only.contains(model) { continue }
            progress(c.name)
            let path = repositoryRoot + "/" + modelFile
            let tol = c.tolerance?.max_abs ?? manifest.tolerance.max_abs
            func load(_ item: Item) throws -> Tensor { try NPY.load(path: fixturesDir + "/" + item.file) }
            let first = rows.count
            switch c.kind {
            case "stream": rows += try runStream(c, path: path, tolerance: tol, storage: weightStorage, load: load)
            case "chunk": rows += try runChunk(c, path: path, tolerance: tol, storage: weightStorage, load: load)
            case "call", "calls": rows += try runCalls(c, path: path, tolerance: tol, storage: weightStorage, load: load)
            default: continue
            }
            for i in first..<rows.count {
                if let t = c.tolerance?.per_output?[rows[i].output] { rows[i].tolerance = t }
            }
        }
        return rows
    }

    static func frame(_ t: Tensor, _ index: Int, of count: Int) -> ArraySlice<UInt8> {
        let per = t.bytes.count / count
        return t.bytes[(index * per)..<((index + 1) * per)]
    }

    static func write(_ bytes: ArraySlice<UInt8>, to b: TensorBuffer, what: String) throws {
        guard bytes.count == b.byteCount else {
            throw Failure(description: "\(what): fixture frame has \(bytes.count) bytes, the model input \(b.shape) needs \(b.byteCount)")
        }
        bytes.withUnsafeBytes { b.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    static func compare(_ acc: inout ErrorAccumulator, frame: Int, got b: TensorBuffer, want: ArraySlice<UInt8>, what: String) throws {
        guard want.count == b.byteCount else {
            throw Failure(description: "\(what): fixture has \(want.count) bytes per frame, the model output \(b.shape) has \(b.byteCount)")
        }
        want.withUnsafeBytes { raw in
            acc.add(frame: frame, got: UnsafeBufferPointer(start: b.floats, count: b.count),
                    want: raw.bindMemory(to: Float.self))
        }
    }

    static func runStream(_ c: Case, path: String, tolerance: Double, storage: WeightStorage,
                          load: (Item) throws -> Tensor) throws -> [ParityRow] {
        let n = c.n_frames ?? 0
        let m = try StreamingModel(path: path, frames: 1, slowInputs: slowInputs, weightStorage: storage)
        let s = m.session
        var inputs: [(TensorBuffer, Tensor, Bool, Bool)] = []  // buffer, data, per-frame, slow
        for item in c.inputs {
            guard let b = m.input(item.name) else { throw Failure(description: "\(path): no input '\(item.name)' (case \(c.name))") }
            inputs.append((b, try load(item), item.per_frame ?? false, slowInputs.contains(item.name)))
        }
        var outs: [(TensorBuffer, Tensor, ErrorAccumulator, String)] = []
        for item in c.outputs {
            guard let b = m.output(item.name) else { throw Failure(description: "\(path): no output '\(item.name)'") }
            outs.append((b, try load(item), ErrorAccumulator(), item.name))
        }
        var states: [(Int, Tensor, ErrorAccumulator, String)] = []
        for item in c.states ?? [] {
            guard let k = Int(item.name.dropFirst("state_out_".count)), k < m.statePairs.count else {
                throw Failure(description: "\(path): fixture state '\(item.name)' has no matching state pair")
            }
            states.append((k, try load(item), ErrorAccumulator(), item.name))
        }
        let stateFrames = c.state_frames ?? []
        var stateRow = 0
        var previous: [ArraySlice<UInt8>?] = Array(repeating: nil, count: inputs.count)
        for t in 0..<n {
            for (k, (b, data, perFrame, isSlow)) in inputs.enumerated() {
                let bytes = perFrame ? frame(data, t, of: n) : data.bytes[...]
                if t == 0 || perFrame {
                    // only the hoisted nodes that read a changed slow input are re-evaluated
                    if isSlow, previous[k] != bytes, let index = s.inputIndex(b.name) { s.invalidateSlowInput(index) }
                    previous[k] = bytes
                    try write(bytes, to: b, what: "\(c.name) frame \(t)")
                }
            }
            m.step()
            for k in outs.indices {
                try compare(&outs[k].2, frame: t, got: outs[k].0, want: frame(outs[k].1, t, of: n), what: "\(c.name) \(outs[k].3)")
            }
            if stateRow < stateFrames.count, stateFrames[stateRow] == t {
                for k in states.indices {
                    let b = s.inputs[m.statePairs[states[k].0].input]   // after step the new state is the next input
                    try compare(&states[k].2, frame: t, got: b, want: frame(states[k].1, stateRow, of: stateFrames.count),
                                what: "\(c.name) \(states[k].3)")
                }
                stateRow += 1
            }
        }
        return outs.map { $0.2.row(caseName: c.name, output: $0.3, tolerance: tolerance) }
            + states.map { $0.2.row(caseName: c.name, output: $0.3, tolerance: tolerance) }
    }

    static func runChunk(_ c: Case, path: String, tolerance: Double, storage: WeightStorage,
                          load: (Item) throws -> Tensor) throws -> [ParityRow] {
        let m = try StreamingModel(path: path, frames: c.T ?? 1, weightStorage: storage)
        for item in c.inputs {
            guard let b = m.input(item.name) else { throw Failure(description: "\(path): no input '\(item.name)'") }
            try write(try load(item).bytes[...], to: b, what: "\(c.name) \(item.name)")
        }
        m.session.run()
        var rows: [ParityRow] = []
        for item in c.outputs {
            guard let b = m.output(item.name) else { throw Failure(description: "\(path): no output '\(item.name)'") }
            var acc = ErrorAccumulator()
            try compare(&acc, frame: 0, got: b, want: try load(item).bytes[...], what: "\(c.name) \(item.name)")
            rows.append(acc.row(caseName: c.name, output: item.name, tolerance: tolerance))
        }
        return rows
    }

    static func runCalls(_ c: Case, path: String, tolerance: Double, storage: WeightStorage,
                          load: (Item) throws -> Tensor) throws -> [ParityRow] {
        let calls = c.n_calls ?? 1
        let first = try load(c.inputs[0])
        let perCall = c.inputs[0].per_call ?? false
        // Variable-length inputs (speaker encoder): compile for this call's T.
        let frames = perCall ? (first.shape.last ?? 1) : (first.shape.last ?? 1)
        let m = try StreamingModel(path: path, frames: frames, weightStorage: storage)
        var accs = c.outputs.map { _ in ErrorAccumulator() }
        let inputData = try c.inputs.map(load)
        let outputData = try c.outputs.map(load)
        for call in 0..<calls {
            for (k, item) in c.inputs.enumerated() {
                guard let b = m.input(item.name) else { throw Failure(description: "\(path): no input '\(item.name)'") }
                let bytes = (item.per_call ?? false) ? frame(inputData[k], call, of: calls) : inputData[k].bytes[...]
                try write(bytes, to: b, what: "\(c.name) call \(call)")
            }
            m.session.run()
            for (k, item) in c.outputs.enumerated() {
                guard let b = m.output(item.name) else { throw Failure(description: "\(path): no output '\(item.name)'") }
                let want = (item.per_call ?? false) ? frame(outputData[k], call, of: calls) : outputData[k].bytes[...]
                try compare(&accs[k], frame: call, got: b, want: want, what: "\(c.name) \(item.name)")
            }
        }
        return zip(c.outputs, accs).map { $1.row(caseName: c.name, output: $0.name, tolerance: tolerance) }
    }

    /// Formats rows as an aligned table.
    public static func table(_ rows: [ParityRow]) -> String {
        var lines = ["case                       output          frames   max abs err   max rel err  worst frame  status"]
        for r in rows {
            func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
            lines.append(pad(r.caseName, 27) + pad(r.output, 16) + pad(String(r.frames), 9)
                         + pad(String(format: "%.3e", r.maxAbsError), 14) + pad(String(format: "%.3e", r.maxRelError), 13)
                         + pad(String(r.worstFrame), 13) + (r.passedByRelativeBar ? "ok (rel <= \(r.relativeTolerance!))" : r.passed ? "ok" : "FAIL (> \(r.tolerance))"))
        }
        return lines.joined(separator: "\n")
    }
}
