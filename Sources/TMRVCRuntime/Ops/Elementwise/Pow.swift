import ONNXFormat

// ONNX Pow: X ^ Y with numpy broadcasting; the output has X's type.
// - Float base (float32/64/16, bfloat16) with an exponent of the same type: libm pow in the
//   compute type. A constant scalar exponent 1, 2, 3, 0.5 or -1 (of any type) becomes a
//   multiply/sqrt/divide.
// - Float base with an exponent of another type (integer or float): pow in double, rounded.
// - Integer base: integer exponents are exact (repeated squaring, wrapping); float exponents use
//   double pow truncated toward zero.

final class PowKernel: Kernel, ElementVisitor, @unchecked Sendable {
    enum Special { case none, identity, square, cube, sqrt, reciprocal }

    let x: TensorBuffer, y: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan
    let xKind: ElementKind, yKind: ElementKind
    /// The exponent as doubles, when its type differs from the base's.
    let exponents: UnsafeMutablePointer<Double>?
    let special: Special

    init(x: TensorBuffer, y: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan, xKind: ElementKind,
         yKind: ElementKind, exponents: UnsafeMutablePointer<Double>?, special: Special) {
        self.x = x; self.y = y; self.out = out; self.plan = plan; self.xKind = xKind; self.yKind = yKind
        self.exponents = exponents; self.special = special
        self.constantExponent = y.isConstant
        super.init()
        if constantExponent { widenExponent() }
    }

    /// The exponent is known at load: widened once, in `init`.
    let constantExponent: Bool

    /// Widens the exponent to doubles (run-time, into the workspace).
    @inline(__always)
    func widenExponent() {
        guard let e = exponents else { return }
        let n = y.count
        switch yKind {
        case .float: mapElements(n, elementPointer(y, Float.self), e) { Double($0) }
        case .double: mapElements(n, elementPointer(y, Double.self), e) { $0 }
        case .float16: mapElements(n, elementPointer(y, Float16.self), e) { Double($0) }
        case .bfloat16: mapElements(n, elementPointer(y, BFloat16.self), e) { Double($0.math) }
        case .int8: mapElements(n, elementPointer(y, Int8.self), e) { Double($0) }
        case .int16: mapElements(n, elementPointer(y, Int16.self), e) { Double($0) }
        case .int32: mapElements(n, elementPointer(y, Int32.self), e) { Double($0) }
        case .int64: mapElements(n, elementPointer(y, Int64.self), e) { Double($0) }
        case .uint8: mapElements(n, elementPointer(y, UInt8.self), e) { Double($0) }
        case .uint16: mapElements(n, elementPointer(y, UInt16.self), e) { Double($0) }
        case .uint32: mapElements(n, elementPointer(y, UInt32.self), e) { Double($0) }
        case .uint64: mapElements(n, elementPointer(y, UInt64.self), e) { Double($0) }
        case .bool: mapElements(n, elementPointer(y, UInt8.self), e) { $0 != 0 ? 1 : 0 }
        }
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        let px = UnsafePointer(elementPointer(x, S.self)), po = elementPointer(out, S.self)
        switch special {
        case .none:
            if let e = exponents {
                binaryRows(plan, px, UnsafePointer(e), po) { S(math: S.Math(fromDouble: Double.pow($0.math.doubleValue, $1))) }
            } else {
                binaryRows(plan, px, UnsafePointer(elementPointer(y, S.self)), po) { S(math: S.Math.pow($0.math, $1.math)) }
            }
        case .identity: mapElements(out.count, px, po) { $0 }
        case .square: mapElements(out.count, px, po) { let v = $0.math; return S(math: v * v) }
        case .cube: mapElements(out.count, px, po) { let v = $0.math; return S(math: v * v * v) }
        case .sqrt: mapElements(out.count, px, po) { v in
            // pow(-0, 0.5) = +0 and pow(-inf, 0.5) = +inf, unlike sqrt.
            let m = v.math
            return S(math: m == -S.Math.infinity ? S.Math.infinity : (m + 0).squareRoot())
        }
        case .reciprocal: mapElements(out.count, px, po) { S(math: 1 / $0.math) }
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        guard let e = exponents else { return }
        let px = UnsafePointer(elementPointer(x, T.self)), po = elementPointer(out, T.self)
        if yKind.isFloatingPoint {
            let (lo, hi) = T.doubleBounds
            binaryRows(plan, px, UnsafePointer(e), po) { T.clamping(truncating: Double.pow($0.doubleValue, $1), low: lo, high: hi) }
        } else {
            binaryRows(plan, px, UnsafePointer(e), po) { integerPower($0, $1) }
        }
    }

    override func run() {
        if !constantExponent { widenExponent() }
        xKind.visit(self)
    }
}

/// `base` raised to the integral `exponent` (exact, wrapping); negative exponents give the
/// truncated reciprocal (0 unless the base is 1 or -1).
@inline(__always)
func integerPower<T: FixedWidthInteger>(_ base: T, _ exponent: Double) -> T {
    if exponent < 0 {
        if base == 1 { return 1 }
        if T.isSigned && base &+ 1 == 0 {
            return exponent.truncatingRemainder(dividingBy: 2) == 0 ? 1 : base
        }
        return 0
    }
    var n = UInt64.clamping(truncating: exponent, low: 0, high: 0x1p64)
    var result: T = 1, b = base
    while n > 0 {
        if n & 1 == 1 { result = result &* b }
        b = b &* b
        n >>= 1
    }
    return result
}

/// The fast path for a constant exponent, if any.
private func powSpecial(_ e: Double) -> PowKernel.Special {
    switch e {
    case 1: return .identity
    case 2: return .square
    case 3: return .cube
    case 0.5: return .sqrt
    case -1: return .reciprocal
    default: return .none
    }
}

extension Operators {
    static let powOp = OperatorDefinition("Pow", since: 7) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0), y = try ctx.input(1)
        guard let xKind = ElementKind(x.dataType), xKind != .bool else {
            throw ctx.unsupported("base type \(x.dataType) is not supported")
        }
        guard let yKind = ElementKind(y.dataType), yKind != .bool else {
            throw ctx.unsupported("exponent type \(y.dataType) is not supported")
        }
        if ctx.opset < 12 && x.dataType != y.dataType {
            throw ctx.error("Pow before opset 12 needs one type for base and exponent, got \(x.dataType) and \(y.dataType)")
        }
        guard let plan = BroadcastPlan([x.shape, y.shape]) else {
            throw ctx.error("shapes \(x.shape) and \(y.shape) cannot be broadcast")
        }
        let out = try ctx.output(0, x.dataType, plan.outputShape)
        // A constant scalar exponent of 1, 2, 3, 0.5 or -1 (any type) on a float base: multiply,
        // sqrt or divide in the compute type (within an ulp of pow).
        var special = PowKernel.Special.none
        if xKind.isFloatingPoint, y.isConstant, y.count == 1, plan.outputShape == x.shape {
            switch y.dataType {
            case .float, .double, .float16: special = powSpecial(Double(y.readFloats()[0]))
            case .int64, .int32: special = powSpecial(Double(y.readInts()[0]))
            default: break
            }
        }
        let sameFloat = xKind.isFloatingPoint && x.dataType == y.dataType
        let exponents = sameFloat || special != .none ? nil : ctx.workspace(bytes: y.count * 8).assumingMemoryBound(to: Double.self)
        return PowKernel(x: x, y: y, out: out, plan: plan, xKind: xKind, yKind: yKind, exponents: exponents, special: special)
    }
}
