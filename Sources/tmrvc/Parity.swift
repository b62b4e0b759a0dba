import ArgumentParser
import Foundation
import TMRVCTooling
import ONNXFormat
import TMRVCRuntime

/// `tmrvc parity --model their.onnx --data dir/`: runs a model on reference data sets in the
/// ONNX backend-test layout and reports how far each output is from the reference.
///
/// `dir` holds one or more `test_data_set_*` folders (or is one); each has `input_N.pb` and
/// `output_N.pb` serialized TensorProtos, matched to the graph's inputs (initializers excluded)
/// and outputs by position. An element passes when |got - want| <= atol + rtol * |want|
/// (numpy.allclose); NaN matches only NaN. Exit status: 0 all within tolerance, 1 a tolerance
/// breach, 2 a data set that could not be loaded, compiled or run.
struct Parity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the runtime's outputs with reference outputs (ONNX backend-test layout).",
        discussion: """
            Each test_data_set_* folder under --data holds input_N.pb / output_N.pb (serialized \
            TensorProto), matched to the graph inputs (initializers excluded) and outputs by position. \
            Shapes come from the data; 0-D and 1-D integer inputs are frozen as load-time constants, \
            as a host freezes shape tensors. An element passes when |got - want| <= atol + rtol*|want|. \
            Exit status: 0 within tolerance, 1 tolerance breach, 2 load/compile/run error.
            """)

    @Argument(help: "Fixture folder with manifest.json (default: the shipped Tests/Fixtures) — runs the five models' ONNX Runtime fixtures, streamed frame by frame with state feedback. Ignored with --model/--data.")
    var fixtures: String?

    @Option(help: "Path of the .onnx model.")
    var model: String?

    @Option(help: "Folder of test_data_set_* folders (or a single data set folder).")
    var data: String?

    @Option(help: "Absolute tolerance.")
    var atol: Double = 1e-4

    @Option(help: "Relative tolerance.")
    var rtol: Double = 1e-3

    @Option(help: "Write a machine-readable JSON report to this path.")
    var json: String?

    @Flag(help: "Feed 0-D/1-D integer inputs at run time instead of freezing them as constants.")
    var noFreezeIntInputs = false

    func validate() throws {
        guard (model == nil) == (data == nil) else { throw ValidationError("pass both --model FILE.onnx and --data DIR (or neither, for the shipped fixtures)") }
        guard atol >= 0, rtol >= 0 else { throw ValidationError("--atol and --rtol must be non-negative") }
    }

    func run() throws {
        guard let model, let data else { return try runFixtures() }
        var report = ParityReport(model: model, atol: atol, rtol: rtol)
        let sets: [String]
        do { sets = try BackendTestLayout.dataSets(in: data) } catch {
            throw ValidationError("\(error)")
        }
        print("model: \(model)   data: \(data)   atol \(ParityReport.format(atol))  rtol \(ParityReport.format(rtol))")
        let decoded: ONNXModel
        do { decoded = try ONNXModel.load(path: model) } catch {
            report.errors.append(ParityReport.DataSetError(dataSet: "", message: error.description))
            report.printErrors()
            try finish(report)
            return
        }
        for set in sets {
            let name = (set as NSString).lastPathComponent
            do {
                let result = try BackendTestLayout.run(model: decoded, dataSet: set, freezeIntInputs: !noFreezeIntInputs)
                var rows: [OutputComparison] = []
                for (output, got, want) in result.outputs {
                    rows.append(OutputComparison(dataSet: name, output: output, got: got, expected: want, atol: atol, rtol: rtol))
                }
                report.comparisons += rows
                print("\(name): compiled in \(ParityReport.milliseconds(result.compileSeconds)), ran in \(ParityReport.milliseconds(result.runSeconds))")
                ParityReport.printTable(rows)
            } catch {
                report.errors.append(ParityReport.DataSetError(dataSet: name, message: "\(error)"))
                print("\(name): ERROR \(error)")
            }
        }
        try finish(report)
    }

    /// Prints the summary, writes the JSON report and exits with the report's status.
    func finish(_ report: ParityReport) throws {
        print(report.summary)
        if let json {
            do { try report.writeJSON(to: json) } catch {
                throw ValidationError("cannot write \(json): \(error.localizedDescription)")
            }
            print("report written to \(json)")
        }
        let status = report.exitStatus
        if status != 0 { throw ExitCode(status) }
    }
}

// MARK: - Backend-test layout

/// Reading and running ONNX backend-test data sets (`test_data_set_*/input_N.pb, output_N.pb`).
enum BackendTestLayout {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The data-set folders under `path`, sorted; `path` itself when it holds `input_0.pb` / `output_0.pb`.
    static func dataSets(in path: String) throws -> [String] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw Failure(description: "\(path): not a folder")
        }
        let entries = try fm.contentsOfDirectory(atPath: path)
        if entries.contains(where: { $0.hasPrefix("output_") && $0.hasSuffix(".pb") }) { return [path] }
        let sets = entries.filter { $0.hasPrefix("test_data_set_") }.sorted { numericSuffix($0) < numericSuffix($1) }
        guard !sets.isEmpty else { throw Failure(description: "\(path): no test_data_set_* folders") }
        return sets.map { (path as NSString).appendingPathComponent($0) }
    }

    /// The `N` of `prefixN.pb` / `prefix_N`, for numeric ordering (input_10 after input_9).
    static func numericSuffix(_ name: String) -> Int {
        let stem = name.hasSuffix(".pb") ? String(name.dropLast(3)) : name
        return Int(stem.split(separator: "_").last ?? "") ?? Int.max
    }

    /// Files `prefix_N.pb` in `dir`, ordered by N, which must run 0, 1, 2, ... without gaps.
    static func numberedFiles(_ prefix: String, in dir: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasPrefix(prefix + "_") && $0.hasSuffix(".pb") }
            .sorted { numericSuffix($0) < numericSuffix($1) }
        for (i, n) in names.enumerated() where numericSuffix(n) != i {
            throw Failure(description: "\(dir): expected \(prefix)_\(i).pb, found \(n)")
        }
        return names.map { (dir as NSString).appendingPathComponent($0) }
    }

    /// Reads a serialized TensorProto as an owned tensor.
    static func readTensor(_ path: String) throws -> Tensor {
        let proto = try decodeTensorFile(path: path)
        do { return try Tensor(proto) } catch { throw Failure(description: "\(path): \(error)") }
    }

    struct Result {
        /// (output name, runtime value, reference) in graph output order.
        var outputs: [(String, Tensor, Tensor)]
        var compileSeconds: Double
        var runSeconds: Double
    }

    /// Compiles `model` for the shapes of one data set, runs it and pairs outputs with references.
    static func run(model: ONNXModel, dataSet dir: String, freezeIntInputs: Bool) throws -> Result {
        let initializers = Set(model.graph.initializers.map(\.name))
        let inputNames = model.graph.inputs.map(\.name).filter { !initializers.contains($0) }
        let inputFiles = try numberedFiles("input", in: dir)
        let outputFiles = try numberedFiles("output", in: dir)
        guard inputFiles.count <= inputNames.count else {
            throw Failure(description: "\(dir): \(inputFiles.count) input files for \(inputNames.count) graph inputs (\(inputNames.joined(separator: ", ")))")
        }
        guard outputFiles.count == model.graph.outputs.count else {
            throw Failure(description: "\(dir): \(outputFiles.count) output files for \(model.graph.outputs.count) graph outputs")
        }
        var feeds: [String: Tensor] = [:]
        var shapes: [String: [Int]] = [:]
        var constants: [String: Tensor] = [:]
        for (i, path) in inputFiles.enumerated() {
            let t = try readTensor(path)
            let name = inputNames[i]
            if freezeIntInputs, t.dataType == .int64 || t.dataType == .int32, t.shape.count <= 1 {
                constants[name] = t
            } else {
                feeds[name] = t
                shapes[name] = t.shape
            }
        }
        let clock = ContinuousClock()
        var session: InferenceSession? = nil
        let compile = try clock.measure {
            session = try InferenceSession(model: model, options: SessionOptions(inputShapes: shapes, constantInputs: constants))
        }
        var outputs: [String: Tensor] = [:]
        let run = try clock.measure { outputs = try session!.run(feeds) }
        var paired: [(String, Tensor, Tensor)] = []
        for (j, path) in outputFiles.enumerated() {
            let name = session!.outputNames[j]
            guard let got = outputs[name] else { throw Failure(description: "output '\(name)' was not produced") }
            paired.append((name, got, try readTensor(path)))
        }
        return Result(outputs: paired, compileSeconds: compile.seconds, runSeconds: run.seconds)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

// MARK: - Comparison and report (shared by every parity mode)
//
// Another mode (e.g. the fixture-based `tmrvc parity [fixtures dir]` for the shipped models) makes
// one `OutputComparison(dataSet:output:got:expected:atol:rtol:)` per output and frame/fixture,
// prints them with `ParityReport.printTable`, appends them (and any `DataSetError`) to a
// `ParityReport`, and ends with `Parity.finish(_:)`, which prints the summary, writes `--json` and
// sets the exit status. Dispatch on which options/arguments were given in `Parity.run()`.

/// How one output compares with its reference.
struct OutputComparison: Codable {
    /// Data set (or fixture) name.
    var dataSet: String
    /// Output name.
    var output: String
    /// Element type of the runtime's output.
    var dataType: String
    /// Shape of the runtime's output.
    var shape: [Int]
    /// Shape of the reference.
    var expectedShape: [Int]
    /// Largest |got - want|.
    var maxAbsError: Double
    /// Largest |got - want| / |want| over elements whose reference is non-zero.
    var maxRelError: Double
    /// Flat index of the worst element: the one furthest past atol + rtol*|want| when any
    /// element fails, otherwise the one with the largest absolute error.
    var worstIndex: Int?
    /// Multi-dimensional index of the worst element.
    var worstPosition: [Int]?
    /// Runtime value at the worst element.
    var worstGot: Double?
    /// Reference value at the worst element.
    var worstExpected: Double?
    /// Elements outside atol + rtol*|want|.
    var failingElements: Int
    /// Elements compared.
    var elements: Int
    /// True when every element is within tolerance and type and shape match.
    var passed: Bool
    /// Why the comparison could not be made element-wise (type or shape mismatch), if so.
    var problem: String?

    init(dataSet: String, output: String, got: Tensor, expected: Tensor, atol: Double, rtol: Double) {
        self.dataSet = dataSet
        self.output = output
        dataType = got.dataType.description
        shape = got.shape
        expectedShape = expected.shape
        maxAbsError = 0
        maxRelError = 0
        failingElements = 0
        elements = expected.count
        passed = false
        guard got.shape == expected.shape else {
            problem = "shape \(got.shape), expected \(expected.shape)"
            return
        }
        guard got.dataType == expected.dataType else {
            problem = "type \(got.dataType), expected \(expected.dataType)"
            return
        }
        guard let a = ElementValues.doubles(got), let b = ElementValues.doubles(expected) else {
            // Types without a numeric reading compare bytewise.
            passed = got.bytes == expected.bytes
            if !passed {
                failingElements = 1
                problem = "\(got.dataType) values differ"
            }
            return
        }
        // The worst element: the one furthest past its tolerance when any fails, otherwise the
        // one with the largest absolute error (the first of equals).
        var worstExcess = -Double.infinity, worstFailing: Int? = nil
        var worstAbs = -1.0, worstAbsIndex: Int? = nil
        for i in 0..<b.count {
            let g = a[i], w = b[i]
            if g.isNaN && w.isNaN { continue }
            let diff: Double
            if g == w {
                diff = 0      // also equal infinities
            } else if g.isNaN || w.isNaN || g.isInfinite || w.isInfinite {
                diff = .infinity
            } else {
                diff = abs(g - w)
            }
            let bound = w.isFinite ? atol + rtol * abs(w) : 0
            let fails = diff.isInfinite || diff > bound
            if fails { failingElements += 1 }
            maxAbsError = max(maxAbsError, diff)
            if w != 0 && !w.isNaN { maxRelError = max(maxRelError, diff / abs(w)) }
            if fails, diff - bound > worstExcess { worstExcess = diff - bound; worstFailing = i }
            if diff > worstAbs { worstAbs = diff; worstAbsIndex = i }
        }
        if let i = worstFailing ?? worstAbsIndex {
            worstIndex = i
            worstPosition = Self.position(of: i, in: shape)
            worstGot = a[i]
            worstExpected = b[i]
        }
        passed = failingElements == 0
    }

    /// The multi-dimensional index of flat index `i` in row-major `shape`.
    static func position(of i: Int, in shape: [Int]) -> [Int] {
        var rest = i
        var pos = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
            pos[d] = rest % shape[d]
            rest /= shape[d]
        }
        return pos
    }

    enum CodingKeys: String, CodingKey {
        case dataSet = "data_set", output, dataType = "data_type", shape, expectedShape = "expected_shape"
        case maxAbsError = "max_abs_error", maxRelError = "max_rel_error", worstIndex = "worst_index"
        case worstPosition = "worst_position", worstGot = "worst_got", worstExpected = "worst_expected"
        case failingElements = "failing_elements", elements, passed, problem
    }
}

/// Numeric readings of tensor elements (as Double) for the comparison.
enum ElementValues {
    static func doubles(_ t: Tensor) -> [Double]? {
        t.bytes.withUnsafeBytes { raw -> [Double]? in
            func read<T>(_: T.Type, _ convert: (T) -> Double) -> [Double] {
                (0..<t.count).map { convert(raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
            }
            switch t.dataType {
            case .float: return read(Float.self) { Double($0) }
            case .double: return read(Double.self) { $0 }
            case .float16: return read(UInt16.self) { Double(Float(Float16(bitPattern: $0))) }
            case .bfloat16: return read(UInt16.self) { Double(Float(bitPattern: UInt32($0) << 16)) }
            case .int8: return read(Int8.self) { Double($0) }
            case .uint8, .bool: return read(UInt8.self) { Double($0) }
            case .int16: return read(Int16.self) { Double($0) }
            case .uint16: return read(UInt16.self) { Double($0) }
            case .int32: return read(Int32.self) { Double($0) }
            case .uint32: return read(UInt32.self) { Double($0) }
            // 64-bit integers beyond 2^53 lose precision as Double; exact equality still holds
            // for equal values and any difference shows as a non-zero error.
            case .int64: return read(Int64.self) { Double($0) }
            case .uint64: return read(UInt64.self) { Double($0) }
            default: return nil
            }
        }
    }
}

/// The result of a parity run: comparisons, data sets that failed outright, and the tolerances.
struct ParityReport: Codable {
    struct DataSetError: Codable {
        var dataSet: String
        var message: String
        enum CodingKeys: String, CodingKey { case dataSet = "data_set", message }
    }

    var model: String
    var atol: Double
    var rtol: Double
    var comparisons: [OutputComparison] = []
    var errors: [DataSetError] = []

    init(model: String, atol: Double, rtol: Double) {
        self.model = model
        self.atol = atol
        self.rtol = rtol
    }

    /// True when every comparison passed and nothing failed to run.
    var passed: Bool { errors.isEmpty && comparisons.allSatisfy(\.passed) }

    /// 0 pass, 1 tolerance breach, 2 errors (which take precedence).
    var exitStatus: Int32 { !errors.isEmpty ? 2 : (comparisons.allSatisfy(\.passed) ? 0 : 1) }

    var summary: String {
        let failed = comparisons.filter { !$0.passed }.count
        let worstAbs = comparisons.map(\.maxAbsError).max() ?? 0
        let verdict = passed ? "PASS" : (errors.isEmpty ? "FAIL" : "ERROR")
        return "\(verdict): \(comparisons.count - failed)/\(comparisons.count) outputs within tolerance"
            + (errors.isEmpty ? "" : ", \(errors.count) data set(s) with errors")
            + "; worst max abs error \(Self.format(worstAbs))"
    }

    func printErrors() {
        for e in errors { print("\(e.dataSet.isEmpty ? "model" : e.dataSet): ERROR \(e.message)") }
    }

    /// Prints comparisons as an aligned table (one row per output).
    static func printTable(_ rows: [OutputComparison]) {
        let header = ["output", "type", "shape", "max abs", "max rel", "worst at", "got", "expected", "status"]
        var table = [header]
        for r in rows {
            let status = r.passed ? "ok" : (r.problem.map { "FAIL (\($0))" } ?? "FAIL (\(r.failingElements)/\(r.elements) elements)")
            let at = r.worstIndex.map { "\($0) \(r.worstPosition.map { "[" + $0.map(String.init).joined(separator: ",") + "]" } ?? "")" } ?? "-"
            table.append([r.output, r.dataType, "[" + r.shape.map(String.init).joined(separator: ",") + "]",
                          format(r.maxAbsError), format(r.maxRelError), at,
                          r.worstGot.map(formatValue) ?? "-", r.worstExpected.map(formatValue) ?? "-", status])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in table { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        for row in table {
            let line = row.enumerated().map { i, c in i == row.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            print("  " + line.joined(separator: "  "))
        }
    }

    static func format(_ v: Double) -> String { v.isFinite ? String(format: "%.3e", v) : "\(v)" }
    static func formatValue(_ v: Double) -> String { v.isFinite ? String(format: "%.6g", v) : "\(v)" }
    static func milliseconds(_ s: Double) -> String { String(format: "%.2f ms", s * 1000) }

    func writeJSON(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    enum CodingKeys: String, CodingKey { case model, atol, rtol, comparisons, errors, passed }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(atol, forKey: .atol)
        try c.encode(rtol, forKey: .rtol)
        try c.encode(comparisons, forKey: .comparisons)
        try c.encode(errors, forKey: .errors)
        try c.encode(passed, forKey: .passed)
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        atol = try c.decode(Double.self, forKey: .atol)
        rtol = try c.decode(Double.self, forKey: .rtol)
        comparisons = try c.decode([OutputComparison].self, forKey: .comparisons)
        errors = try c.decode([DataSetError].self, forKey: .errors)
    }
}

extension Parity {
    /// `tmrvc parity [fixtures]`: the shipped models against their ONNX Runtime fixtures.
    func runFixtures() throws {
        let fm = FileManager.default
        let dir: String
        if let fixtures {
            dir = fixtures
        } else {
            let models = try ModelLocation.resolve(nil)
            dir = (models as NSString).deletingLastPathComponent + "/Tests/Fixtures"
        }
        guard fm.fileExists(atPath: dir + "/manifest.json") else {
            FileHandle.standardError.write("error: \(dir): no manifest.json (pass the fixture folder)\n".data(using: .utf8)!)
            throw ExitCode(2)
        }
        // model_file entries are relative to the repository root, two levels above the fixtures.
        let root = ((dir as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        let rows: [ParityRow]
        do {
            rows = try FixtureParity.run(fixturesDir: dir, repositoryRoot: root.isEmpty ? "." : root)
        } catch {
            FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
            throw ExitCode(2)
        }
        print("fixtures: \(dir)")
        print(FixtureParity.table(rows))
        let failed = rows.filter { !$0.passed }
        print("\(rows.count - failed.count) passed, \(failed.count) failed")
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(rows).write(to: URL(fileURLWithPath: json))
        }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
