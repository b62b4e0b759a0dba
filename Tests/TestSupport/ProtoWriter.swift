// A minimal protobuf encoder for building ONNX models (valid and deliberately broken) in tests.

public struct ProtoWriter {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    public mutating func tag(_ field: Int, _ wire: UInt8) { varint(UInt64(field) << 3 | UInt64(wire)) }
    public mutating func int(_ field: Int, _ value: Int64) { tag(field, 0); varint(UInt64(bitPattern: value)) }
    public mutating func bytes(_ field: Int, _ payload: [UInt8]) { tag(field, 2); varint(UInt64(payload.count)); bytes += payload }
    public mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }
    public mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var sub = ProtoWriter(); build(&sub); bytes(field, sub.bytes)
    }
    public mutating func float32(_ field: Int, _ f: Float) {
        tag(field, 5); withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes += $0 }
    }
    public mutating func double64(_ field: Int, _ d: Double) {
        tag(field, 1); withUnsafeBytes(of: d.bitPattern.littleEndian) { bytes += $0 }
    }
    /// Appends bytes as they are (for deliberately malformed encodings).
    public mutating func raw(_ payload: [UInt8]) { bytes += payload }
    /// A packed repeated varint field.
    public mutating func packedVarints(_ field: Int, _ values: [Int64]) {
        var sub = ProtoWriter(); for v in values { sub.varint(UInt64(bitPattern: v)) }; bytes(field, sub.bytes)
    }
    /// A packed repeated fixed32 field of floats.
    public mutating func packedFloats(_ field: Int, _ values: [Float]) {
        bytes(field, values.withUnsafeBytes { Array($0) })
    }
}

/// Encodes a float tensor as TensorProto with raw_data.
public func floatTensor(_ w: inout ProtoWriter, name: String, dims: [Int], values: [Float]) {
    for d in dims { w.int(1, Int64(d)) }
    w.int(2, 1)
    w.string(8, name)
    w.bytes(9, values.withUnsafeBytes { Array($0) })
}

/// Encodes a ValueInfoProto of a float tensor.
public func valueInfo(_ w: inout ProtoWriter, name: String, dims: [Int]) {
    w.string(1, name)
    w.message(2) { t in
        t.message(1) { tt in
            tt.int(1, 1)
            tt.message(2) { s in for d in dims { s.message(1) { dim in dim.int(1, Int64(d)) } } }
        }
    }
}

/// A one-input, one-output float model; nodes given as (op, inputs, outputs).
public func makeModel(nodes: [(String, [String], [String])], initializer: (String, [Int], [Float])? = ("w", [2], [1, 2]),
                      input: (String, [Int]) = ("x", [2]), output: (String, [Int]) = ("y", [2]), opset: Int64 = 17) -> [UInt8] {
    makeModel(nodes: nodes, initializers: initializer.map { [$0] } ?? [], inputs: [input], outputs: [output], opset: opset)
}

/// A float model with several inputs, outputs and initializers.
public func makeModel(nodes: [(String, [String], [String])], initializers: [(String, [Int], [Float])],
                      inputs: [(String, [Int])], outputs: [(String, [Int])], opset: Int64 = 17) -> [UInt8] {
    var m = ProtoWriter()
    m.int(1, 8)
    m.message(8) { o in o.string(1, ""); o.int(2, opset) }
    m.message(7) { g in
        for (op, ins, outs) in nodes {
            g.message(1) { n in
                for i in ins { n.string(1, i) }
                for o in outs { n.string(2, o) }
                n.string(4, op)
            }
        }
        g.string(2, "test")
        for (name, dims, values) in initializers { g.message(5) { t in floatTensor(&t, name: name, dims: dims, values: values) } }
        for input in inputs { g.message(11) { v in valueInfo(&v, name: input.0, dims: input.1) } }
        for output in outputs { g.message(12) { v in valueInfo(&v, name: output.0, dims: output.1) } }
    }
    return m.bytes
}

/// Encodes a model around a graph built by `graph` (ir_version 8, default opset `opset`).
public func makeModel(opset: Int64 = 17, graph: (inout ProtoWriter) -> Void) -> [UInt8] {
    var m = ProtoWriter()
    m.int(1, 8)
    m.message(8) { o in o.string(1, ""); o.int(2, opset) }
    m.message(7, graph)
    return m.bytes
}

/// Encodes a NodeProto.
public func node(_ w: inout ProtoWriter, _ op: String, _ ins: [String], _ outs: [String], name: String = "",
                 attributes: (inout ProtoWriter) -> Void = { _ in }) {
    w.message(1) { n in
        for i in ins { n.string(1, i) }
        for o in outs { n.string(2, o) }
        if !name.isEmpty { n.string(3, name) }
        n.string(4, op)
        attributes(&n)
    }
}
