import ONNXFormat

/// A tensor slot of a compiled session: type and shape fixed at load, storage assigned by the
/// memory planner. Kernels read `data` at run time, so a session can re-point graph inputs,
/// outputs and streaming states without recompiling.
public final class TensorBuffer: @unchecked Sendable {
    /// What owns this buffer's storage.
    public enum Role: Sendable {
        /// A graph input (session-owned or bound by the caller).
        case input
        /// A graph output (session-owned or bound by the caller).
        case output
        /// Known at load time (initializer or folded).
        case constant
        /// An intermediate value placed in the arena.
        case intermediate
        /// Shares storage with another buffer (reshape-like ops).
        case alias
    }

    /// Element type.
    public let dataType: DataType
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Number of elements.
    public let count: Int
    /// Bytes of storage.
    public let byteCount: Int
    /// Name of the value (for messages).
    public let name: String
    /// Current role.
    public internal(set) var role: Role
    /// The buffer this one aliases (role `.alias`).
    public internal(set) var aliasOf: TensorBuffer?
    /// Storage. Valid after planning (immediately for constants).
    public internal(set) var data: UnsafeMutableRawPointer

    nonisolated(unsafe) static let placeholder = UnsafeMutableRawPointer(bitPattern: 64)!

    init(name: String, dataType: DataType, shape: [Int], role: Role) {
        self.name = name
        self.dataType = dataType
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.byteCount = count * (dataType.byteSize ?? 0)
        self.role = role
        self.data = TensorBuffer.placeholder
    }

    /// Float32 view of the storage.
    @inline(__always) public var floats: UnsafeMutablePointer<Float> { data.assumingMemoryBound(to: Float.self) }
    /// Int64 view of the storage.
    @inline(__always) public var int64s: UnsafeMutablePointer<Int64> { data.assumingMemoryBound(to: Int64.self) }
    /// Int32 view of the storage.
    @inline(__always) public var int32s: UnsafeMutablePointer<Int32> { data.assumingMemoryBound(to: Int32.self) }
    /// Double view of the storage.
    @inline(__always) public var doubles: UnsafeMutablePointer<Double> { data.assumingMemoryBound(to: Double.self) }
    /// Byte view (bool, uint8, int8).
    @inline(__always) public var bytes: UnsafeMutablePointer<UInt8> { data.assumingMemoryBound(to: UInt8.self) }

    /// True when the value is known at load time.
    public var isConstant: Bool {
        if role == .constant { return true }
        if role == .alias, let root = aliasOf { return root.isConstant }
        return false
    }

    /// Copies the current contents into an owned `Tensor`.
    public func snapshot() -> Tensor {
        Tensor(dataType: dataType, shape: shape, bytes: Array(UnsafeRawBufferPointer(start: data, count: byteCount)))
    }

    /// Reads the contents as Int64 (int64/int32 element types), e.g. for shape inputs.
    public func readInts() -> [Int] {
        switch dataType {
        case .int64: return (0..<count).map { Int(int64s[$0]) }
        case .int32: return (0..<count).map { Int(int32s[$0]) }
        default: return []
        }
    }

    /// Reads the contents as Float (float32/float64/float16 element types).
    public func readFloats() -> [Float] {
        switch dataType {
        case .float: return Array(UnsafeBufferPointer(start: floats, count: count))
        case .double: return (0..<count).map { Float(doubles[$0]) }
        case .float16:
            let p = data.assumingMemoryBound(to: UInt16.self)
            return (0..<count).map { Float(Float16(bitPattern: p[$0])) }
        default: return []
        }
    }
}

/// Compile-time owned memory, 64-byte aligned, freed with the session.
final class OwnedMemory: @unchecked Sendable {
    private(set) var blocks: [UnsafeMutableRawPointer] = []
    /// Bytes allocated so far (checked against `limit`).
    private(set) var totalBytes = 0
    /// `SessionOptions.maxMemoryBytes`.
    let limit: Int

    init(limit: Int = Int.max) { self.limit = limit }

    /// Allocates only if the session's total stays within `limit`; otherwise throws before
    /// allocating (the compiler's tensors: inputs, constants, folded values, outputs, arena).
    func allocate(bytes: Int, file: String) throws(RuntimeError) -> UnsafeMutableRawPointer {
        guard bytes <= limit - totalBytes else {
            throw RuntimeError(.shape, "\(file): the session would need more than \(limit) bytes (\(totalBytes) allocated, \(bytes) more asked; SessionOptions.maxMemoryBytes)")
        }
        return allocate(bytes: bytes)
    }

    func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        totalBytes += max(bytes, 64)
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 64))
        blocks.append(p)
        return p
    }

    deinit {
        for b in blocks { b.deallocate() }
    }
}
