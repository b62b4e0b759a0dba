import ArgumentParser
import ONNXFormat
import TMRVCRuntime

/// `tmrvc inspect model.onnx`: inputs, outputs, op histogram, parameters, arena size, unsupported ops.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe an ONNX model as the runtime sees it.")

    @Argument(help: "Path of the .onnx file.")
    var model: String

    @Option(name: .customLong("shape"), help: "Concrete input shape, NAME=D0,D1,... (repeatable); symbolic dims default to 1.")
    var shapes: [String] = []

    func run() throws {
        let decoded: ONNXModel
        do { decoded = try ONNXModel.load(path: model) } catch {
            throw ValidationError(error.description)
        }
        let g = decoded.graph
        print("model: \(model)")
        print("ir_version: \(decoded.irVersion)  opset: \(decoded.defaultOpset)  producer: \(decoded.producerName) \(decoded.producerVersion)")
        let initNames = Set(g.initializers.map(\.name))
        print("inputs:")
        for i in g.inputs where !initNames.contains(i.name) {
            print("  \(i.name): \(i.elementType) [\((i.shape ?? []).map(\.description).joined(separator: ", "))]")
        }
        print("outputs:")
        for o in g.outputs {
            print("  \(o.name): \(o.elementType) [\((o.shape ?? []).map(\.description).joined(separator: ", "))]")
        }
        var histogram: [String: Int] = [:]
        for n in g.nodes { histogram[n.opType, default: 0] += 1 }
        print("ops (\(g.nodes.count) nodes):")
        for (op, count) in histogram.sorted(by: { $0.key < $1.key }) {
            let mark = OperatorRegistry.supports(op) ? "" : "   <- unsupported"
            print("  \(op): \(count)\(mark)")
        }
        let params = g.initializers.filter { $0.dataType == .float }.reduce(0) { $0 + $1.elementCount }
        let bytes = g.initializers.reduce(0) { $0 + $1.byteCount }
        print("parameters: \(params) float32 (\(bytes) bytes of initializers)")
        let unsupported = histogram.keys.filter { !OperatorRegistry.supports($0) }.sorted()
        if !unsupported.isEmpty {
            print("unsupported ops: \(unsupported.joined(separator: ", "))")
            throw ExitCode(1)
        }
        var inputShapes: [String: [Int]] = [:]
        for spec in shapes {
            let parts = spec.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--shape expects NAME=D0,D1,..., got '\(spec)'") }
            let dims = parts[1].split(separator: ",").compactMap { Int($0) }
            inputShapes[String(parts[0])] = dims
        }
        for i in g.inputs where !initNames.contains(i.name) && inputShapes[i.name] == nil {
            inputShapes[i.name] = (i.shape ?? []).map { if case .value(let v) = $0 { return v } else { return 1 } }
        }
        do {
            let session = try InferenceSession(model: decoded, options: SessionOptions(inputShapes: inputShapes))
            let s = session.statistics
            print("compiled for \(inputShapes.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " ")):")
            print("  kernels per run: \(s.kernelCount)  folded at load: \(s.foldedNodeCount)  views: \(s.aliasNodeCount)  hoisted: \(s.hoistedNodeCount)")
            print("  arena: \(s.arenaBytes) bytes (without reuse: \(s.unplannedBytes))  constants: \(s.constantBytes) bytes")
        } catch {
            print("compile error: \(error)")
            throw ExitCode(1)
        }
    }
}
