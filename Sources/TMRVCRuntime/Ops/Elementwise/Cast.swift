import ONNXFormat

// ONNX Cast(to, saturate, round_mode) and CastLike(input, target_type): conversions between
// float32, float64, float16, bfloat16, int8-int64, uint8-uint64 and bool.
// - float -> float rounds to nearest even (float64 -> float16 directly; -> bfloat16 via float32).
// - float -> integer truncates toward zero; NaN gives 0 and out-of-range values saturate (the
//   spec leaves them undefined).
// - integer -> integer wraps (two's complement), as numpy `astype` does.
// - anything -> bool is `x != 0` (NaN is true); bool -> anything is 0 or 1.
// `saturate` and `round_mode` only concern float8 targets, which (like strings, 4-bit and 2-bit
// types) are not supported. A cast to the input's own type is a view.

final class CastKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let x: TensorBuffer, out: TensorBuffer
    let source: ElementKind, target: ElementKind

    init(x: TensorBuffer, out: TensorBuffer, source: ElementKind, target: ElementKind) {
        self.x = x; self.out = out; self.source = source; self.target = target
    }

    @inline(__always)
    func convert<A, R>(_: A.Type, _: R.Type, _ body: (A) -> R) {
        mapElements(out.count, UnsafePointer(elementPointer(x, A.self)), elementPointer(out, R.self), body)
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        switch target {
        case .float: convert(S.self, Float.self) { Float($0.math.doubleValue) }
        case .double: convert(S.self, Double.self) { $0.math.doubleValue }
        case .float16: convert(S.self, Float16.self) { Float16($0.math.doubleValue) }
        case .bfloat16: convert(S.self, BFloat16.self) { BFloat16(math: Float($0.math.doubleValue)) }
        case .int8: let (lo, hi) = Int8.doubleBounds
            convert(S.self, Int8.self) { .clamping(truncating: $0.math.doubleValue, low: lo, high: hi) }
        case .int16: let (lo, hi) = Int16.doubleBounds
            convert(S.self, Int16.self) { .clamping(truncating: $0.math.doubleValue, low: lo, high: hi) }
        case .int32: let (lo, hi) = Int32.doubleBounds
            convert(S.self, Int32.self) { .clamping(truncating: $0.math.doubleValue, low: lo, high: hi) }
        case .int64: let (lo, hi) = Int64.doubleBounds
            convert(S.self, Int64.self) { .clamping(truncating: $0.math.doubleValue, low: lo, high: hi) }
        case .uint8: let (lo, hi) = UInt8.doubleBounds
            convert(S.self, UInt8.self) { .clamping(truncating: $0.math.doubleValue, low: lo, high: hi) }
        case .uint16: let (lo, hi) = UInt16.doubleBounds
            convert(S.self, UInt16.self) { .clamping(truncating: $0.math.doubleValue, low: lo, high: hi) }
        case .uint32: let (lo, hi) = UInt32.doubleBounds
            convert(S.self, UInt32.self) { .clamping(truncating: $0.math.doubleValue, low: lo, high: hi) }
        case .uint64: let (lo, hi) = UInt64.doubleBounds
            convert(S.self, UInt64.self) { .clamping(truncating: $0.math.doubleValue, low: lo, high: hi) }
        case .bool: convert(S.self, UInt8.self) { $0.math != 0 ? 1 : 0 }
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        switch target {
        case .float: convert(T.self, Float.self) { $0.floatValue }
        case .double: convert(T.self, Double.self) { $0.doubleValue }
        case .float16: convert(T.self, Float16.self) { Float16($0.floatValue) }
        case .bfloat16: convert(T.self, BFloat16.self) { BFloat16(math: $0.floatValue) }
        case .int8: convert(T.self, Int8.self) { Int8(truncatingIfNeeded: $0) }
        case .int16: convert(T.self, Int16.self) { Int16(truncatingIfNeeded: $0) }
        case .int32: convert(T.self, Int32.self) { Int32(truncatingIfNeeded: $0) }
        case .int64: convert(T.self, Int64.self) { Int64(truncatingIfNeeded: $0) }
        case .uint8: convert(T.self, UInt8.self) { UInt8(truncatingIfNeeded: $0) }
        case .uint16: convert(T.self, UInt16.self) { UInt16(truncatingIfNeeded: $0) }
        case .uint32: convert(T.self, UInt32.self) { UInt32(truncatingIfNeeded: $0) }
        case .uint64: convert(T.self, UInt64.self) { UInt64(truncatingIfNeeded: $0) }
        case .bool: convert(T.self, UInt8.self) { $0 != 0 ? 1 : 0 }
        }
    }

    @inline(__always)
    func visitBool() {
        // Normalize to 0/1 first, then convert like uint8.
        if target == .bool {
            convert(UInt8.self, UInt8.self) { $0 != 0 ? 1 : 0 }
        } else {
            visitInteger(UInt8.self)
        }
    }

    override func run() { source.visit(self) }
}

/// Builds Cast/CastLike from input 0 to `target`.
func makeCast(_ ctx: inout NodeContext, to target: DataType) throws(RuntimeError) -> Kernel? {
    let x = try ctx.input(0)
    let saturate = try ctx.int("saturate", default: 1)
    guard saturate == 0 || saturate == 1 else { throw ctx.error("saturate must be 0 or 1, got \(saturate)") }
    let roundMode = try ctx.string("round_mode", default: "up")
    guard ["up", "down", "nearest"].contains(roundMode) else {
        throw ctx.error("round_mode must be up, down or nearest, got '\(roundMode)'")
    }
    guard let source = ElementKind(x.dataType) else {
        throw ctx.unsupported("casting from \(x.dataType) is not supported")
    }
    guard let destination = ElementKind(target) else {
        throw ctx.unsupported("casting to \(target) is not supported")
    }
    if x.dataType == target {
        try ctx.aliasOutput(0, of: x, shape: x.shape)
        return nil
    }
    let out = try ctx.output(0, target, x.shape)
    return CastKernel(x: x, out: out, source: source, target: destination)
}

extension Operators {
    static let castOp = OperatorDefinition("Cast", since: 6) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let to = try ctx.int("to")
        guard let target = Int32(exactly: to).flatMap(DataType.init(rawValue:)) else {
            throw ctx.unsupported("casting to data type \(to) is not supported")
        }
        return try makeCast(&ctx, to: target)
    }

    static let castLikeOp = OperatorDefinition("CastLike", since: 15) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let like = try ctx.input(1)
        return try makeCast(&ctx, to: like.dataType)
    }
}
