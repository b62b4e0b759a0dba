import ONNXFormat

// Shared machinery of the element-wise family: broadcast row loops, element kinds with a
// type dispatcher, and the storage formats of floating-point tensors (float16, bfloat16 are
// computed in Float and rounded on store).

// MARK: loops

/// Runs `body` over every broadcast row of a binary operation (inlined and specialized per use).
/// Each row is a flat loop: both operands contiguous, one of them a broadcast scalar, or both.
@inline(__always)
func binaryRows<A, B, R>(_ plan: BroadcastPlan, _ a: UnsafePointer<A>, _ b: UnsafePointer<B>,
                         _ out: UnsafeMutablePointer<R>, _ body: (A, B) -> R) {
    let n = plan.rowLength
    let sa = plan.rowStrides[0], sb = plan.rowStrides[1]
    plan.rowOffsets[0].withUnsafeBufferPointer { oa in
        plan.rowOffsets[1].withUnsafeBufferPointer { ob in
            var o = out
            for r in 0..<plan.rowCount {
                let pa = a + oa[r], pb = b + ob[r]
                switch (sa, sb) {
                case (1, 1): for i in 0..<n { o[i] = body(pa[i], pb[i]) }
                case (1, 0): let y = pb[0]; for i in 0..<n { o[i] = body(pa[i], y) }
                case (0, 1): let x = pa[0]; for i in 0..<n { o[i] = body(x, pb[i]) }
                default: let v = body(pa[0], pb[0]); for i in 0..<n { o[i] = v }
                }
                o += n
            }
        }
    }
}

/// Runs `body` over every broadcast row of a ternary operation (Where). Every combination of
/// contiguous and broadcast-scalar operands gets its own flat loop (scalars loaded once per row).
@inline(__always)
func ternaryRows<A, B, C, R>(_ plan: BroadcastPlan, _ a: UnsafePointer<A>, _ b: UnsafePointer<B>,
                             _ c: UnsafePointer<C>, _ out: UnsafeMutablePointer<R>, _ body: (A, B, C) -> R) {
    let n = plan.rowLength
    let pattern = plan.rowStrides[0] << 2 | plan.rowStrides[1] << 1 | plan.rowStrides[2]
    plan.rowOffsets[0].withUnsafeBufferPointer { oa in
        plan.rowOffsets[1].withUnsafeBufferPointer { ob in
            plan.rowOffsets[2].withUnsafeBufferPointer { oc in
                var o = out
                for r in 0..<plan.rowCount {
                    let pa = a + oa[r], pb = b + ob[r], pc = c + oc[r]
                    switch pattern {
                    case 0b111: for i in 0..<n { o[i] = body(pa[i], pb[i], pc[i]) }
                    case 0b110: let z = pc[0]; for i in 0..<n { o[i] = body(pa[i], pb[i], z) }
                    case 0b101: let y = pb[0]; for i in 0..<n { o[i] = body(pa[i], y, pc[i]) }
                    case 0b100: let y = pb[0], z = pc[0]; for i in 0..<n { o[i] = body(pa[i], y, z) }
                    case 0b011: let x = pa[0]; for i in 0..<n { o[i] = body(x, pb[i], pc[i]) }
                    case 0b010: let x = pa[0], z = pc[0]; for i in 0..<n { o[i] = body(x, pb[i], z) }
                    case 0b001: let x = pa[0], y = pb[0]; for i in 0..<n { o[i] = body(x, y, pc[i]) }
                    default: let v = body(pa[0], pb[0], pc[0]); for i in 0..<n { o[i] = v }
                    }
                    o += n
                }
            }
        }
    }
}

/// Applies `body` to `count` contiguous elements.
@inline(__always)
func mapElements<A, R>(_ count: Int, _ a: UnsafePointer<A>, _ out: UnsafeMutablePointer<R>, _ body: (A) -> R) {
    for i in 0..<count { out[i] = body(a[i]) }
}

/// The storage of `buffer` as elements of `T` (read at run time: sessions re-point buffers).
@inline(__always)
func elementPointer<T>(_ buffer: TensorBuffer, _: T.Type) -> UnsafeMutablePointer<T> {
    buffer.data.assumingMemoryBound(to: T.self)
}

// MARK: element kinds

/// Element types the element-wise kernels are specialized for. `bool` is stored as one byte 0/1.
enum ElementKind: Sendable, Equatable {
    case float, double, float16, bfloat16
    case int8, int16, int32, int64, uint8, uint16, uint32, uint64
    case bool

    init?(_ t: DataType) {
        switch t {
        case .float: self = .float
        case .double: self = .double
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        case .int8: self = .int8
        case .int16: self = .int16
        case .int32: self = .int32
        case .int64: self = .int64
        case .uint8: self = .uint8
        case .uint16: self = .uint16
        case .uint32: self = .uint32
        case .uint64: self = .uint64
        case .bool: self = .bool
        default: return nil
        }
    }

    var isFloatingPoint: Bool { self == .float || self == .double || self == .float16 || self == .bfloat16 }
    var isInteger: Bool { !isFloatingPoint && self != .bool }
    var isSignedInteger: Bool { self == .int8 || self == .int16 || self == .int32 || self == .int64 }

    /// Calls the visitor's method for this kind with the concrete element type. Inlined into a
    /// kernel's `run()`, every branch is a call specialized for its type.
    @inline(__always)
    func visit<V: ElementVisitor>(_ v: V) {
        switch self {
        case .float: v.visitFloat(Float.self)
        case .double: v.visitFloat(Double.self)
        case .float16: v.visitFloat(Float16.self)
        case .bfloat16: v.visitFloat(BFloat16.self)
        case .int8: v.visitInteger(Int8.self)
        case .int16: v.visitInteger(Int16.self)
        case .int32: v.visitInteger(Int32.self)
        case .int64: v.visitInteger(Int64.self)
        case .uint8: v.visitInteger(UInt8.self)
        case .uint16: v.visitInteger(UInt16.self)
        case .uint32: v.visitInteger(UInt32.self)
        case .uint64: v.visitInteger(UInt64.self)
        case .bool: v.visitBool()
        }
    }
}

/// A kernel that runs a type-specialized body per element kind (see `ElementKind.visit`).
/// Kinds a kernel's factory rejects keep the empty default.
protocol ElementVisitor {
    func visitFloat<S: FloatStorage>(_: S.Type)
    func visitInteger<T: FixedWidthInteger>(_: T.Type)
    func visitBool()
}

extension ElementVisitor {
    func visitFloat<S: FloatStorage>(_: S.Type) {}
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {}
    func visitBool() {}
}

/// Element types the arithmetic kernels were first written for (kept for other families).
enum NumericKind {
    case float, double, int64, int32, int8, uint8, int16, uint16, uint32, uint64, float16

    init?(_ t: DataType) {
        switch t {
        case .float: self = .float
        case .double: self = .double
        case .int64: self = .int64
        case .int32: self = .int32
        case .int8: self = .int8
        case .uint8: self = .uint8
        case .int16: self = .int16
        case .uint16: self = .uint16
        case .uint32: self = .uint32
        case .uint64: self = .uint64
        case .float16: self = .float16
        default: return nil
        }
    }
}

// MARK: floating-point storage

/// How a floating-point tensor stores its elements and which type they are computed in:
/// Float and Double compute in themselves; Float16 and BFloat16 widen to Float and round the
/// result back (round to nearest even), as the ONNX reference does.
protocol FloatStorage {
    associatedtype Math: MathFloat
    /// The element widened to its compute type.
    var math: Math { get }
    /// The compute-type value rounded to this storage.
    init(math: Math)
}

extension Float: FloatStorage {
    @inline(__always) var math: Float { self }
    @inline(__always) init(math: Float) { self = math }
}

extension Double: FloatStorage {
    @inline(__always) var math: Double { self }
    @inline(__always) init(math: Double) { self = math }
}

extension Float16: FloatStorage {
    @inline(__always) var math: Float { Float(self) }
    @inline(__always) init(math: Float) { self.init(math) }
}

/// A bfloat16 element: the upper half of a float32.
struct BFloat16: FloatStorage, Equatable, Sendable {
    var bits: UInt16

    @inline(__always) init(bits: UInt16) { self.bits = bits }

    @inline(__always) var math: Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Rounds to nearest even; NaN becomes the canonical quiet NaN 0x7FC0 (as ONNX does).
    @inline(__always) init(math x: Float) {
        let b = x.bitPattern
        if x.isNaN {
            bits = 0x7FC0
        } else {
            let rounding = 0x7FFF &+ ((b >> 16) & 1)
            bits = UInt16(truncatingIfNeeded: (b &+ rounding) >> 16)
        }
    }
}

// MARK: conversions

extension FixedWidthInteger {
    /// The value as Double/Float through Int64 or UInt64 (concrete conversions: the generic
    /// integer-to-float initializer is several times slower). Correctly rounded.
    @inline(__always) var doubleValue: Double {
        Self.isSigned ? Double(Int64(truncatingIfNeeded: self)) : Double(UInt64(truncatingIfNeeded: self))
    }
    @inline(__always) var floatValue: Float {
        Self.isSigned ? Float(Int64(truncatingIfNeeded: self)) : Float(UInt64(truncatingIfNeeded: self))
    }

    /// The range bounds as doubles, for `clamping(truncating:low:high:)` (hoist out of loops:
    /// the generic integer-to-float conversion is slow).
    static var doubleBounds: (low: Double, high: Double) { (Double(Self.min), Double(Self.max)) }

    /// `d` truncated toward zero and clamped to the type's range (`low`/`high` from
    /// `doubleBounds`); NaN becomes 0. ONNX leaves out-of-range conversions undefined; this never
    /// traps. Converts through Int64/UInt64, whose conversions from Double are single
    /// instructions (the generic `Self(d)` is several times slower).
    @inline(__always)
    static func clamping(truncating d: Double, low: Double, high: Double) -> Self {
        if d.isNaN { return 0 }
        if d <= low { return Self.min }
        // Double(Self.max) rounds up to 2^63 / 2^64 for 64-bit types, so `>=` catches every value
        // that does not fit.
        if d >= high { return Self.max }
        return Self.isSigned || Self.bitWidth < 64 ? Self(truncatingIfNeeded: Int64(d)) : Self(truncatingIfNeeded: UInt64(d))
    }
}
