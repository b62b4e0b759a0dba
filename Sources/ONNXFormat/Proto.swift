// Swift views of the ONNX protobuf messages that inference needs (onnx/onnx.proto, IR version <= 11).

/// ONNX `TensorProto.DataType`.
public enum DataType: Int32, Sendable, CustomStringConvertible {
    case undefined = 0, float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7
    case string = 8, bool = 9, float16 = 10, double = 11, uint32 = 12, uint64 = 13
    case complex64 = 14, complex128 = 15, bfloat16 = 16
    case float8e4m3fn = 17, float8e4m3fnuz = 18, float8e5m2 = 19, float8e5m2fnuz = 20
    case uint4 = 21, int4 = 22, float4e2m1 = 23

    /// Bytes per element, or nil for types without a fixed byte size (string, 4-bit types).
    public var byteSize: Int? {
        switch self {
        case .float, .int32, .uint32: return 4
        case .uint8, .int8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .int64, .double, .uint64, .complex64: return 8
        case .complex128: return 16
        case .undefined, .string, .uint4, .int4, .float4e2m1: return nil
        }
    }

    public var description: String {
        switch self {
        case .undefined: return "undefined"
        case .float: return "float32"
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .string: return "string"
        case .bool: return "bool"
        case .float16: return "float16"
        case .double: return "float64"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .complex64: return "complex64"
        case .complex128: return "complex128"
        case .bfloat16: return "bfloat16"
        case .float8e4m3fn: return "float8e4m3fn"
        case .float8e4m3fnuz: return "float8e4m3fnuz"
        case .float8e5m2: return "float8e5m2"
        case .float8e5m2fnuz: return "float8e5m2fnuz"
        case .uint4: return "uint4"
        case .int4: return "int4"
        case .float4e2m1: return "float4e2m1"
        }
    }
}

/// Where a tensor's element bytes live.
public enum TensorStorage: @unchecked Sendable {
    /// Little-endian bytes inside a mapped file (`raw_data`, or external data): zero copy.
    case mapped(file: MappedFile, offset: Int, count: Int)
    /// Bytes decoded from typed repeated fields (`float_data`, `int64_data`, ...), already in the
    /// element type's little-endian layout.
    case owned([UInt8])
    /// `string_data` elements.
    case strings([[UInt8]])
    /// Stored in another file; resolved by `ONNXModel.load`.
    case external(location: String, offset: Int, length: Int?)
}

/// ONNX `TensorProto`: a constant tensor (initializer, attribute value, test data).
public struct TensorProto: @unchecked Sendable {
    /// Tensor name (may be empty for attribute tensors).
    public var name: String = ""
    /// Dimensions, outermost first.
    public var dims: [Int] = []
    /// Element type.
    public var dataType: DataType = .undefined
    /// The element bytes.
    public var storage: TensorStorage = .owned([])
    /// Byte offset of this `TensorProto` message in the file it was read from (for messages).
    public var sourceOffset: Int = 0

    public init() {}

    /// Number of elements implied by `dims`.
    public var elementCount: Int { dims.reduce(1, *) }

    /// Calls `body` with the element bytes (little-endian). Not valid for strings or unresolved external data.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .mapped(let file, let offset, let count):
            return try body(UnsafeRawBufferPointer(start: file.bytes + offset, count: count))
        case .owned(let bytes):
            return try bytes.withUnsafeBytes(body)
        case .strings, .external:
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Byte count of the stored element data (0 for strings/external).
    public var byteCount: Int {
        switch storage {
        case .mapped(_, _, let count): return count
        case .owned(let bytes): return bytes.count
        case .strings, .external: return 0
        }
    }
}

/// One dimension of a declared value shape.
public enum Dimension: Sendable, Equatable, CustomStringConvertible {
    /// A fixed size.
    case value(Int)
    /// A symbolic size, e.g. `"T"`.
    case param(String)
    /// Neither given.
    case unknown

    public var description: String {
        switch self {
        case .value(let v): return String(v)
        case .param(let p): return p
        case .unknown: return "?"
        }
    }
}

/// ONNX `ValueInfoProto` restricted to tensor types.
public struct ValueInfo: Sendable {
    /// Value name.
    public var name: String = ""
    /// Element type (`.undefined` if the value is not a tensor or has no type).
    public var elementType: DataType = .undefined
    /// Declared shape, or nil when no shape is given.
    public var shape: [Dimension]? = nil
    /// True when the type is not a plain tensor (sequence, map, optional, sparse).
    public var isNonTensor: Bool = false

    public init() {}
}

/// ONNX `AttributeProto.AttributeType`.
public enum AttributeType: Int32, Sendable {
    case undefined = 0, float = 1, int = 2, string = 3, tensor = 4, graph = 5
    case floats = 6, ints = 7, strings = 8, tensors = 9, graphs = 10
    case sparseTensor = 11, sparseTensors = 12, typeProto = 13, typeProtos = 14
}

/// ONNX `AttributeProto`.
public struct AttributeProto: @unchecked Sendable {
    /// Attribute name.
    public var name: String = ""
    /// Declared type.
    public var type: AttributeType = .undefined
    /// FLOAT value.
    public var f: Float = 0
    /// INT value.
    public var i: Int64 = 0
    /// STRING value (raw bytes).
    public var s: [UInt8] = []
    /// TENSOR value.
    public var t: TensorProto? = nil
    /// GRAPH value.
    public var g: GraphBox? = nil
    /// FLOATS value.
    public var floats: [Float] = []
    /// INTS value.
    public var ints: [Int64] = []
    /// STRINGS value.
    public var strings: [[UInt8]] = []
    /// TENSORS value.
    public var tensors: [TensorProto] = []
    /// GRAPHS value.
    public var graphs: [GraphProto] = []
    /// Name of the function attribute this one refers to (functions only).
    public var refAttrName: String = ""

    public init() {}

    /// The STRING value decoded as UTF-8.
    public var string: String { String(decoding: s, as: UTF8.self) }
}

/// Boxes a sub-graph so that `AttributeProto` stays a finite-size value.
public final class GraphBox: @unchecked Sendable {
    /// The sub-graph.
    public let graph: GraphProto
    init(_ graph: GraphProto) { self.graph = graph }
}

/// ONNX `NodeProto`.
public struct NodeProto: Sendable {
    /// Input value names ("" marks an omitted optional input).
    public var inputs: [String] = []
    /// Output value names ("" marks an omitted optional output).
    public var outputs: [String] = []
    /// Node name (may be empty).
    public var name: String = ""
    /// Operator type, e.g. `Conv`.
    public var opType: String = ""
    /// Operator domain ("" and "ai.onnx" are the default domain).
    public var domain: String = ""
    /// Attributes.
    public var attributes: [AttributeProto] = []

    public init() {}
}

/// ONNX `GraphProto`.
public struct GraphProto: Sendable {
    /// Graph name.
    public var name: String = ""
    /// Nodes in file order (ONNX requires topological order; the runtime re-sorts anyway).
    public var nodes: [NodeProto] = []
    /// Constant tensors.
    public var initializers: [TensorProto] = []
    /// Graph inputs (may include initializers in old IR versions).
    public var inputs: [ValueInfo] = []
    /// Graph outputs.
    public var outputs: [ValueInfo] = []
    /// Optional shape/type information for intermediate values.
    public var valueInfo: [ValueInfo] = []
    /// True when the graph contains sparse initializers (unsupported).
    public var hasSparseInitializers = false

    public init() {}
}

/// ONNX `OperatorSetIdProto`.
public struct OpsetImport: Sendable {
    /// Domain ("" = default ONNX domain).
    public var domain: String = ""
    /// Opset version.
    public var version: Int64 = 0
}

/// A decoded ONNX `ModelProto`, holding the mapped file its tensors point into.
public struct ONNXModel: @unchecked Sendable {
    /// The file the model was read from (tensor bytes point into it).
    public var file: MappedFile
    /// `ir_version`.
    public var irVersion: Int64 = 0
    /// `opset_import`.
    public var opsetImports: [OpsetImport] = []
    /// `producer_name`.
    public var producerName: String = ""
    /// `producer_version`.
    public var producerVersion: String = ""
    /// The main graph.
    public var graph: GraphProto = GraphProto()
    /// Number of model-local functions (unsupported when used).
    public var functionCount: Int = 0

    init(file: MappedFile) { self.file = file }

    /// Opset version of the default ONNX domain (0 if not imported).
    public var defaultOpset: Int {
        Int(opsetImports.first { $0.domain == "" || $0.domain == "ai.onnx" }?.version ?? 0)
    }
}
