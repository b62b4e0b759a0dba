import Foundation
import XCTest
import ONNXFormat
@testable import TMRVCRuntime

/// Inconsistent graphs and hostile shapes must be rejected at load with a `RuntimeError` that
/// names the file, the node and what is wrong; nothing may crash or exhaust memory.
final class GraphValidationTests: XCTestCase {
    // MARK: a small model writer (protobuf wire format)

    struct Writer {
        var bytes: [UInt8] = []
        mutating func varint(_ value: UInt64) {
            var v = value
            while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            bytes.append(UInt8(v))
        }
        mutating func tag(_ field: Int, _ wire: UInt8) { varint(UInt64(field) << 3 | UInt64(wire)) }
        mutating func int(_ field: Int, _ value: Int64) { tag(field, 0); varint(UInt64(bitPattern: value)) }
        mutating func bytes(_ field: Int, _ payload: [UInt8]) { tag(field, 2); varint(UInt64(payload.count)); bytes += payload }
        mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }
        mutating func message(_ field: Int, _ build: (inout Writer) -> Void) {
            var sub = Writer(); build(&sub); bytes(field, sub.bytes)
        }
    }

    struct Node {
        var op: String
        var inputs: [String]
        var outputs: [String]
        var name = ""
        var domain = ""
        var ints: [String: [Int64]] = [:]
    }

    enum Dim { case v(Int64), p(String) }

    /// Encodes a model: float inputs/outputs with declared dims, float or int64 initializers.
    static func model(nodes: [Node], inputs: [(String, [Dim]?)] = [("x", [.v(2)])], outputs: [String] = ["y"],
                      floatInits: [(String, [Int], [Float])] = [], intInits: [(String, [Int], [Int64])] = [],
                      opset: Int64 = 17, elemType: Int64 = 1, extra: (inout Writer) -> Void = { _ in }) -> [UInt8] {
        var m = Writer()
        m.int(1, 8)
        m.message(8) { o in o.string(1, ""); o.int(2, opset) }
        m.message(7) { g in
            for n in nodes {
                g.message(1) { w in
                    for i in n.inputs { w.string(1, i) }
                    for o in n.outputs { w.string(2, o) }
                    if !n.name.isEmpty { w.string(3, n.name) }
                    w.string(4, n.op)
                    if !n.domain.isEmpty { w.string(7, n.domain) }
                    for (k, vs) in n.ints.sorted(by: { $0.key < $1.key }) {
                        w.message(5) { a in
                            a.string(1, k)
                            if vs.count == 1 { a.int(3, vs[0]); a.int(20, 2) } else { for v in vs { a.int(8, v) }; a.int(20, 7) }
                        }
                    }
                }
            }
            g.string(2, "test")
            for (name, dims, values) in floatInits {
                g.message(5) { t in
                    for d in dims { t.int(1, Int64(d)) }
                    t.int(2, 1); t.string(8, name); t.bytes(9, values.withUnsafeBytes { Array($0) })
                }
            }
            for (name, dims, values) in intInits {
                g.message(5) { t in
                    for d in dims { t.int(1, Int64(d)) }
                    t.int(2, 7); t.string(8, name); t.bytes(9, values.withUnsafeBytes { Array($0) })
                }
            }
            for (name, dims) in inputs {
                g.message(11) { v in
                    v.string(1, name)
                    v.message(2) { t in t.message(1) { tt in
                        tt.int(1, elemType)
                        if let dims {
                            tt.message(2) { s in for d in dims { s.message(1) { dim in
                                switch d { case .v(let x): dim.int(1, x); case .p(let p): dim.string(2, p) }
                            } } }
                        }
                    } }
                }
            }
            for name in outputs {
                g.message(12) { v in v.string(1, name); v.message(2) { t in t.message(1) { tt in tt.int(1, elemType) } } }
            }
            extra(&g)
        }
        return m.bytes
    }

    static func decode(_ bytes: [UInt8], name: String = "graph.onnx") throws -> ONNXModel {
        let file = bytes.withUnsafeBytes { MappedFile(copying: $0, name: name) }
        return try ONNXModel.decode(file: file)
    }

    /// Loads the model and requires a RuntimeError of `kind` whose message contains every fragment.
    func expectError(_ bytes: [UInt8], _ kind: RuntimeError.Kind, _ fragments: [String], options: SessionOptions = SessionOptions(),
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            let model = try Self.decode(bytes)
            _ = try InferenceSession(model: model, options: options)
            XCTFail("loaded without error; expected \(fragments)", file: file, line: line)
        } catch let e as RuntimeError {
            XCTAssertEqual(e.kind, kind, e.message, file: file, line: line)
            XCTAssertTrue(e.message.hasPrefix("graph.onnx: "), e.message, file: file, line: line)
            for f in fragments { XCTAssertTrue(e.message.contains(f), "'\(e.message)' lacks '\(f)'", file: file, line: line) }
        } catch {
            XCTFail("unexpected error \(type(of: error)): \(error)", file: file, line: line)
        }
    }

    // MARK: graph structure

    func testValidModelLoadsAndRuns() throws {
        let bytes = Self.model(nodes: [Node(op: "Add", inputs: ["x", "w"], outputs: ["y"])], floatInits: [("w", [2], [1, 2])])
        let session = try InferenceSession(model: try Self.decode(bytes))
        let out = try session.run(["x": Tensor(shape: [2], floats: [10, 20])])
        XCTAssertEqual(out["y"]?.floats, [11, 22])
    }

    func testCycleIsRejected() {
        let bytes = Self.model(nodes: [
            Node(op: "Add", inputs: ["x", "b"], outputs: ["a"], name: "first"),
            Node(op: "Add", inputs: ["a", "x"], outputs: ["b"], name: "second"),
            Node(op: "Identity", inputs: ["a"], outputs: ["y"]),
        ])
        expectError(bytes, .invalidGraph, ["cycle", "'first'", "'second'"])
        let selfLoop = Self.model(nodes: [Node(op: "Add", inputs: ["x", "y"], outputs: ["y"], name: "loop")])
        expectError(selfLoop, .invalidGraph, ["node 'loop' (Add) consumes its own output 'y'"])
    }

    func testNodesOutOfOrderAreSorted() throws {
        let bytes = Self.model(nodes: [
            Node(op: "Add", inputs: ["t", "t"], outputs: ["y"]),
            Node(op: "Add", inputs: ["x", "x"], outputs: ["t"]),
        ])
        let session = try InferenceSession(model: try Self.decode(bytes))
        XCTAssertEqual(try session.run(["x": Tensor(shape: [2], floats: [1, 2])])["y"]?.floats, [4, 8])
    }

    func testDanglingInputIsRejected() {
        let bytes = Self.model(nodes: [Node(op: "Add", inputs: ["x", "ghost"], outputs: ["y"], name: "adder")])
        expectError(bytes, .invalidGraph, ["node 'adder' (Add) reads 'ghost'", "no node, input or initializer"])
        let unnamed = Self.model(nodes: [Node(op: "Add", inputs: ["x", "ghost"], outputs: ["y"])])
        expectError(unnamed, .invalidGraph, ["node 'Add#0'"])
    }

    func testDuplicateOutputsAreRejected() {
        let twoProducers = Self.model(nodes: [
            Node(op: "Add", inputs: ["x", "x"], outputs: ["y"], name: "one"),
            Node(op: "Add", inputs: ["x", "x"], outputs: ["y"], name: "two"),
        ])
        expectError(twoProducers, .invalidGraph, ["node 'two' (Add) redefines value 'y'"])
        let overwritesInput = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["x"], name: "n")], outputs: ["x"])
        expectError(overwritesInput, .invalidGraph, ["node 'n' (Add) redefines value 'x'"])
        let overwritesInit = Self.model(nodes: [Node(op: "Add", inputs: ["x", "w"], outputs: ["w"], name: "n")], outputs: ["w"],
                                        floatInits: [("w", [2], [1, 2])])
        expectError(overwritesInit, .invalidGraph, ["redefines value 'w'"])
        let twiceInOneNode = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y", "y"], name: "n")])
        expectError(twiceInOneNode, .invalidGraph, ["redefines value 'y'"])
        let initTwice = Self.model(nodes: [Node(op: "Add", inputs: ["x", "w"], outputs: ["y"])],
                                   floatInits: [("w", [2], [1, 2]), ("w", [2], [3, 4])])
        expectError(initTwice, .invalidGraph, ["initializer 'w' is declared twice"])
        let inputTwice = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])], inputs: [("x", [.v(2)]), ("x", [.v(2)])])
        expectError(inputTwice, .invalidGraph, ["input 'x' is declared twice"])
    }

    func testMissingGraphOutputIsRejected() {
        let bytes = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])], outputs: ["y", "nowhere"])
        expectError(bytes, .invalidGraph, ["graph output 'nowhere' is not produced"])
    }

    func testUnsupportedOpNamesOpNodeAndOpset() {
        let bytes = Self.model(nodes: [Node(op: "FancyOp", inputs: ["x"], outputs: ["y"], name: "fancy_1")], opset: 13)
        expectError(bytes, .unsupported, ["node 'fancy_1'", "op 'FancyOp'", "opset 13"])
        let domain = Self.model(nodes: [Node(op: "Gelu", inputs: ["x"], outputs: ["y"], name: "g", domain: "com.microsoft")])
        expectError(domain, .unsupported, ["node 'g'", "op 'Gelu'", "domain 'com.microsoft'", "opset 17"])
        // Reshape is implemented from opset 5 (shape as an input).
        let old = Self.model(nodes: [Node(op: "Reshape", inputs: ["x", "s"], outputs: ["y"], name: "r")], intInits: [("s", [1], [2])], opset: 4)
        expectError(old, .unsupported, ["node 'r'", "op 'Reshape'", "opset 5", "opset 4"])
    }

    func testSparseInitializersAndNonTensorInputsAreRejected() {
        let sparse = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])]) { g in g.message(15) { _ in } }
        expectError(sparse, .unsupported, ["sparse initializers"])
        var seqInput = Writer()
        seqInput.string(1, "s")
        seqInput.message(2) { t in t.message(4) { _ in } }
        let seq = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])]) { g in g.bytes(11, seqInput.bytes) }
        expectError(seq, .unsupported, ["input 's' is not a tensor"])
    }

    // MARK: shapes and size limits

    func testInputShapeBinding() {
        let symbolic = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])], inputs: [("x", [.v(1), .p("T")])])
        expectError(symbolic, .binding, ["input 'x' has symbolic shape", "inputShapes"])
        expectError(symbolic, .binding, ["input 'x' has rank 2", "given shape [3]"], options: SessionOptions(inputShapes: ["x": [3]]))
        expectError(symbolic, .binding, ["declared [1, T], given shape [2, 5]"], options: SessionOptions(inputShapes: ["x": [2, 5]]))
        expectError(symbolic, .binding, ["negative dimension"], options: SessionOptions(inputShapes: ["x": [1, -5]]))
        expectError(symbolic, .binding, ["'nope', which is not a graph input"], options: SessionOptions(inputShapes: ["nope": [1]]))
        let noShape = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])], inputs: [("x", nil)])
        expectError(noShape, .binding, ["input 'x' declares no shape"])
        let stringInput = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])], elemType: 8)
        expectError(stringInput, .unsupported, ["input 'x' has unsupported type string"])
    }

    func testHugeDeclaredInputShapeIsRejected() {
        let overflow = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])],
                                  inputs: [("x", [.v(1 << 40), .v(1 << 40)])])
        expectError(overflow, .shape, ["input 'x' shape [1099511627776, 1099511627776] has more than"])
        let big = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])], inputs: [("x", [.v(1000), .v(1000)])])
        expectError(big, .shape, ["more than 1000 elements"], options: SessionOptions(maxTensorElements: 1000))
    }

    func testHugeReshapeIsRejected() {
        let overflow = Self.model(nodes: [Node(op: "Reshape", inputs: ["x", "s"], outputs: ["y"], name: "r")],
                                  intInits: [("s", [3], [1 << 40, 1 << 40, 1 << 40])])
        expectError(overflow, .shape, ["node 'r' (Reshape, opset 17)", "has more than"])
        let inferred = Self.model(nodes: [Node(op: "Reshape", inputs: ["x", "s"], outputs: ["y"], name: "r")],
                                  intInits: [("s", [3], [-1, Int64.max / 2, 4])])
        expectError(inferred, .shape, ["node 'r'"])
    }

    func testBroadcastBeyondTheLimitIsRejected() {
        // [4096, 1] + [1, 4096] would make 16M elements from 8K.
        let bytes = Self.model(nodes: [Node(op: "Add", inputs: ["a", "b"], outputs: ["y"], name: "outer")],
                               inputs: [("a", [.v(4096), .v(1)]), ("b", [.v(1), .v(4096)])])
        expectError(bytes, .shape, ["node 'outer' (Add"], options: SessionOptions(maxTensorElements: 1 << 20))
        XCTAssertNoThrow(try InferenceSession(model: try Self.decode(bytes), options: SessionOptions(maxTensorElements: 1 << 24)))
    }

    /// Declared shapes that would need gigabytes (an 8 GB input, as in issue 21's reproduction)
    /// are refused at load under the default limits, with the tensor named, instead of aborting
    /// the process in an allocation.
    func testHugeDeclaredShapesFailUnderDefaultLimits() {
        let huge = Self.model(nodes: [Node(op: "Add", inputs: ["x", "x"], outputs: ["y"])],
                              inputs: [("x", [.v(1), .v(2_048_000_000)])])
        expectError(huge, .shape, ["'x'", "elements"], options: SessionOptions())
        // Twenty inputs each at the per-tensor cap (64 MB), 1.3 GB together: refused when the
        // total would pass 1 GiB, before that allocation.
        let many = Self.model(nodes: [Node(op: "Add", inputs: ["x0", "x1"], outputs: ["y"])],
                              inputs: (0..<20).map { ("x\($0)", [.v(4096), .v(4096)]) })
        expectError(many, .shape, ["more than 1073741824 bytes", "maxMemoryBytes"], options: SessionOptions())
        XCTAssertEqual(SessionOptions().maxMemoryBytes, 1 << 30)
    }

    func testMemoryLimit() {
        let bytes = Self.model(nodes: [
            Node(op: "Add", inputs: ["x", "x"], outputs: ["t"]),
            Node(op: "Add", inputs: ["t", "t"], outputs: ["y"]),
        ], inputs: [("x", [.v(1024), .v(1024)])])
        expectError(bytes, .shape, ["bytes"], options: SessionOptions(maxMemoryBytes: 1 << 20))
        XCTAssertNoThrow(try InferenceSession(model: try Self.decode(bytes), options: SessionOptions(maxMemoryBytes: 64 << 20)))
    }

    // MARK: fuzzer regressions

    /// Inputs the fuzzer once crashed on (Tests/FuzzCorpus/regressions): each must now load or
    /// fail with an error, driven exactly as Sources/ONNXFuzz/FuzzTarget.swift drives them
    /// (keep the two in step).
    func testFuzzRegressions() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzCorpus/regressions")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        for name in files.sorted() {
            let data = try Data(contentsOf: dir.appendingPathComponent(name))
            let bytes = [UInt8](data)
            let model: ONNXModel
            do {
                model = try bytes.withUnsafeBytes { b throws(ONNXFormatError) in
                    try ONNXModel.decode(file: MappedFile(copying: b, name: "fuzz.onnx"))
                }
            } catch { continue }
            var shapes: [String: [Int]] = [:]
            let initNames = Set(model.graph.initializers.map(\.name))
            for input in model.graph.inputs where !initNames.contains(input.name) {
                shapes[input.name] = (input.shape ?? [.unknown]).map { if case .value(let v) = $0 { return v } else { return 2 } }
            }
            let options = SessionOptions(inputShapes: shapes)
            guard let session = try? InferenceSession(model: model, options: options), !bytes.isEmpty else { continue }
            var k = 0
            for input in session.inputs {
                let p = input.data.assumingMemoryBound(to: UInt8.self)
                for i in 0..<input.byteCount {
                    p[i] = bytes[k]
                    k = k + 1 == bytes.count ? 0 : k + 1
                }
            }
            session.run()
        }
    }
}
