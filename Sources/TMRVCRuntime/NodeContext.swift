import ONNXFormat

/// What an operator's factory sees while a node is compiled: attributes, typed and shaped
/// inputs (with data when they are constants), and the means to declare outputs.
public struct NodeContext {
    /// The node being compiled.
    public let node: Graph.Node
    /// Opset of the default domain.
    public let opset: Int
    /// File being compiled (for messages).
    public let file: String
    /// Input buffers; nil where the optional input is omitted.
    public let inputs: [TensorBuffer?]
    /// Output buffers declared so far (index = output position).
    public internal(set) var outputs: [TensorBuffer?]
    let outputNames: [String]
    let memory: OwnedMemory
    /// Bias and activation of nodes fused into this one by the compiler (MatMul + Add + Gelu,
    /// Conv + Gelu, Gemm + Gelu); the factory must apply it. Nil for ordinary nodes.
    var epilogue: FusedEpilogue? = nil
    /// Set when the compiler fused Concat + depthwise Conv + Slice into one streaming step.
    var causalDepthwise: CausalDepthwisePlan? = nil
    /// Storage the session wants for constant weights of MatMul/Gemm/Conv.
    var weightStorage: WeightStorage = .float32

    /// Number of inputs given (including omitted ones in the middle).
    public var inputCount: Int { inputs.count }

    /// Number of outputs the node declares.
    public var outputCount: Int { outputNames.count }

    /// Whether output `i` is used by the graph (present and named).
    public func hasOutput(_ i: Int) -> Bool { i < outputNames.count && !outputNames[i].isEmpty }

    /// An error naming the file, node, op and opset.
    public func error(_ reason: String, kind: RuntimeError.Kind = .shape) -> RuntimeError {
        RuntimeError(kind, "\(file): node '\(node.name)' (\(node.opType), opset \(opset)): \(reason)")
    }

    /// An "unsupported" error naming the file, node, op and opset.
    public func unsupported(_ reason: String) -> RuntimeError { error(reason, kind: .unsupported) }

    // MARK: inputs

    /// Required input `i`.
    public func input(_ i: Int) throws(RuntimeError) -> TensorBuffer {
        guard i < inputs.count, let b = inputs[i] else { throw error("required input \(i) is missing") }
        return b
    }

    /// Optional input `i` (nil when omitted or absent).
    public func optionalInput(_ i: Int) -> TensorBuffer? { i < inputs.count ? inputs[i] : nil }

    /// The integer contents of input `i`, which must be known at load time.
    public func constantInts(_ i: Int) throws(RuntimeError) -> [Int] {
        let b = try input(i)
        guard b.isConstant else {
            throw unsupported("input \(i) ('\(b.name)') must be known at load time (it depends on runtime data)")
        }
        guard b.dataType == .int64 || b.dataType == .int32 else {
            throw error("input \(i) ('\(b.name)') must be int64 or int32, got \(b.dataType)")
        }
        return b.readInts()
    }

    /// The float contents of input `i`, which must be known at load time.
    public func constantFloats(_ i: Int) throws(RuntimeError) -> [Float] {
        let b = try input(i)
        guard b.isConstant else { throw unsupported("input \(i) ('\(b.name)') must be known at load time") }
        return b.readFloats()
    }

    // MARK: attributes

    /// Whether the attribute is present.
    public func has(_ name: String) -> Bool { node.attributes[name] != nil }

    /// An INT attribute.
    public func int(_ name: String, default value: Int? = nil) throws(RuntimeError) -> Int {
        if let a = node.attributes[name] { return Int(a.i) }
        guard let value else { throw error("missing required attribute '\(name)'") }
        return value
    }

    /// A FLOAT attribute.
    public func float(_ name: String, default value: Float? = nil) throws(RuntimeError) -> Float {
        if let a = node.attributes[name] { return a.f }
        guard let value else { throw error("missing required attribute '\(name)'") }
        return value
    }

    /// A STRING attribute.
    public func string(_ name: String, default value: String? = nil) throws(RuntimeError) -> String {
        if let a = node.attributes[name] { return a.string }
        guard let value else { throw error("missing required attribute '\(name)'") }
        return value
    }

    /// An INTS attribute, or nil when absent.
    public func ints(_ name: String) -> [Int]? { node.attributes[name].map { $0.ints.map { Int($0) } } }

    /// A FLOATS attribute, or nil when absent.
    public func floats(_ name: String) -> [Float]? { node.attributes[name]?.floats }

    /// A STRINGS attribute, or nil when absent.
    public func strings(_ name: String) -> [String]? {
        node.attributes[name].map { $0.strings.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// A TENSOR attribute, or nil when absent.
    public func tensor(_ name: String) -> TensorProto? { node.attributes[name]?.t }

    /// Zeroed scratch memory owned by the session (64-byte aligned), for kernels that need a
    /// workspace at run time. Not shared with other kernels.
    public func workspace(bytes: Int) -> UnsafeMutableRawPointer { memory.allocate(bytes: bytes) }

    /// The number of elements of `shape`, checked: throws when a dimension is negative, the
    /// product overflows or exceeds `SessionOptions.maxTensorElements`. Use it before sizing
    /// anything from attacker-controlled dimensions.
    public func elementCount(_ shape: [Int]) throws(RuntimeError) -> Int {
        guard let n = CompileLimits.elementCount(shape) else {
            throw error("shape \(shape) is invalid or has more than \(CompileLimits.maxTensorElements) elements")
        }
        return n
    }

    // MARK: outputs

    /// Declares output `i` with its type and shape; the planner gives it storage.
    @discardableResult
    public mutating func output(_ i: Int, _ dataType: DataType, _ shape: [Int]) throws(RuntimeError) -> TensorBuffer {
        guard i < outputNames.count else { throw error("the node has no output \(i)") }
        guard dataType.byteSize != nil else { throw unsupported("output type \(dataType) is not supported") }
        for d in shape where d < 0 { throw error("output \(i) would have negative dimension in \(shape)") }
        _ = try elementCount(shape)
        let b = TensorBuffer(name: outputNames[i], dataType: dataType, shape: shape, role: .intermediate)
        outputs[i] = b
        return b
    }

    /// Declares output `i` as a view of `source` with a new shape (same element count).
    public mutating func aliasOutput(_ i: Int, of source: TensorBuffer, shape: [Int]) throws(RuntimeError) {
        let b = try output(i, source.dataType, shape)
        guard b.count == source.count else { throw error("cannot view \(source.shape) as \(shape)") }
        b.role = .alias
        b.aliasOf = source.role == .alias ? source.aliasOf : source
        if source.isConstant { b.data = source.data }
    }

    /// Declares output `i` as a constant with the given contents.
    public mutating func constantOutput(_ i: Int, _ tensor: Tensor) throws(RuntimeError) {
        let b = try output(i, tensor.dataType, tensor.shape)
        b.role = .constant
        b.data = memory.allocate(bytes: b.byteCount)
        tensor.bytes.withUnsafeBytes { b.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
}

/// Builds a kernel for one node. Return nil when the node needs no run-time work (its outputs
/// are constants or aliases).
public typealias OperatorFactory = (inout NodeContext) throws(RuntimeError) -> Kernel?

/// An operator implementation: its ONNX name, the opsets it supports, and its factory.
public struct OperatorDefinition: Sendable {
    /// ONNX op type, e.g. `Conv`.
    public let opType: String
    /// Oldest default-domain opset this implementation follows.
    public let sinceVersion: Int
    /// Whether load-time folding may run it (false for random ops).
    public let deterministic: Bool
    /// Builds the kernel.
    public let factory: @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel?

    public init(_ opType: String, since: Int = 1, deterministic: Bool = true,
                _ factory: @escaping @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel?) {
        self.opType = opType
        self.sinceVersion = since
        self.deterministic = deterministic
        self.factory = factory
    }
}
