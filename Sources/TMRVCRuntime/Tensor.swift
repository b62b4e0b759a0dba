import ONNXFormat

/// An owned tensor value for the convenient (allocating) API: tools, tests, load-time folding.
public struct Tensor: Sendable, Equatable {
    /// Element type.
    public var dataType: DataType
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// Little-endian element bytes, `shape.product * dataType.byteSize` long.
    public var bytes: [UInt8]

    /// A tensor from raw bytes; the byte count must match the shape.
    public init(dataType: DataType, shape: [Int], bytes: [UInt8]) {
        precondition(bytes.count == shape.reduce(1, *) * (dataType.byteSize ?? 0), "byte count does not match shape")
        self.dataType = dataType
        self.shape = shape
        self.bytes = bytes
    }

    /// A float32 tensor.
    public init(shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "element count does not match shape")
        self.dataType = .float
        self.shape = shape
        self.bytes = floats.withUnsafeBytes { Array($0) }
    }

    /// An int64 tensor.
    public init(shape: [Int], int64s: [Int64]) {
        precondition(int64s.count == shape.reduce(1, *), "element count does not match shape")
        self.dataType = .int64
        self.shape = shape
        self.bytes = int64s.withUnsafeBytes { Array($0) }
    }

    /// A zero-filled tensor.
    public init(zeros dataType: DataType, shape: [Int]) {
        self.dataType = dataType
        self.shape = shape
        self.bytes = [UInt8](repeating: 0, count: shape.reduce(1, *) * (dataType.byteSize ?? 0))
    }

    /// Copies a decoded `TensorProto` (its bytes must be resolved).
    public init(_ proto: TensorProto) throws(RuntimeError) {
        guard let size = proto.dataType.byteSize else {
            throw RuntimeError(.unsupported, "tensor '\(proto.name)': data type \(proto.dataType) is not supported")
        }
        let bytes = proto.withBytes { Array($0) }
        guard bytes.count == proto.elementCount * size else {
            throw RuntimeError(.format, "tensor '\(proto.name)': \(bytes.count) bytes for shape \(proto.dims) of \(proto.dataType)")
        }
        self.dataType = proto.dataType
        self.shape = proto.dims
        self.bytes = bytes
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Elements as Float (float32 tensors only; other types are converted).
    public var floats: [Float] {
        bytes.withUnsafeBytes { raw in
            switch dataType {
            case .float: return Array(raw.bindMemory(to: Float.self))
            case .double: return raw.bindMemory(to: Double.self).map { Float($0) }
            case .int64: return raw.bindMemory(to: Int64.self).map { Float($0) }
            case .int32: return raw.bindMemory(to: Int32.self).map { Float($0) }
            case .float16: return raw.bindMemory(to: UInt16.self).map { Float(Float16(bitPattern: $0)) }
            case .bool, .uint8: return raw.map { Float($0) }
            case .int8: return raw.map { Float(Int8(bitPattern: $0)) }
            default: return []
            }
        }
    }

    /// Elements as Int64 (integer tensors).
    public var int64s: [Int64] {
        bytes.withUnsafeBytes { raw in
            switch dataType {
            case .int64: return Array(raw.bindMemory(to: Int64.self))
            case .int32: return raw.bindMemory(to: Int32.self).map { Int64($0) }
            case .bool, .uint8: return raw.map { Int64($0) }
            case .int8: return raw.map { Int64(Int8(bitPattern: $0)) }
            default: return []
            }
        }
    }
}
