import ONNXFormat

// ONNX Mod: remainder with numpy broadcasting.
// - fmod = 0 (default): the result takes the divisor's sign (Python/numpy `%`; for floats also
//   numpy's edge cases: a zero result carries the divisor's sign, x % ±inf keeps or wraps x).
// - fmod = 1: C `fmod`, the result takes the dividend's sign.
// Integer division by zero gives 0 (the spec leaves it undefined; this never traps).

final class ModKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let a: TensorBuffer, b: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan
    let kind: ElementKind
    let fmod: Bool

    init(a: TensorBuffer, b: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan, kind: ElementKind, fmod: Bool) {
        self.a = a; self.b = b; self.out = out; self.plan = plan; self.kind = kind; self.fmod = fmod
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        let pa = UnsafePointer(elementPointer(a, S.self)), pb = UnsafePointer(elementPointer(b, S.self))
        let po = elementPointer(out, S.self)
        if fmod {
            binaryRows(plan, pa, pb, po) { S(math: S.Math.fmod($0.math, $1.math)) }
        } else {
            binaryRows(plan, pa, pb, po) { S(math: floorMod($0.math, $1.math)) }
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        let pa = UnsafePointer(elementPointer(a, T.self)), pb = UnsafePointer(elementPointer(b, T.self))
        let po = elementPointer(out, T.self)
        if fmod {
            binaryRows(plan, pa, pb, po) { x, y in
                let (r, overflow) = x.remainderReportingOverflow(dividingBy: y)
                return overflow ? 0 : r
            }
        } else {
            binaryRows(plan, pa, pb, po) { x, y in
                let (r, overflow) = x.remainderReportingOverflow(dividingBy: y)
                if overflow { return 0 }
                return r != 0 && (r < 0) != (y < 0) ? r &+ y : r
            }
        }
    }

    override func run() { kind.visit(self) }
}

/// numpy's floating `%`: the remainder with the divisor's sign.
@inline(__always)
func floorMod<T: MathFloat>(_ x: T, _ y: T) -> T {
    let r = T.fmod(x, y)
    if y == 0 { return r }
    if r != 0 {
        return (r < 0) != (y < 0) ? r + y : r
    }
    return y < 0 ? -T.zero : T.zero
}

extension Operators {
    static let modOp = OperatorDefinition("Mod", since: 10) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let a = try ctx.input(0), b = try ctx.input(1)
        let plan = try sameTypeBroadcast(ctx, a, b)
        guard let kind = ElementKind(a.dataType), kind != .bool else {
            throw ctx.unsupported("element type \(a.dataType) is not supported")
        }
        let fmod = try ctx.int("fmod", default: 0)
        guard fmod == 0 || fmod == 1 else { throw ctx.error("fmod must be 0 or 1, got \(fmod)") }
        let out = try ctx.output(0, a.dataType, plan.outputShape)
        return ModKernel(a: a, b: b, out: out, plan: plan, kind: kind, fmod: fmod == 1)
    }
}
