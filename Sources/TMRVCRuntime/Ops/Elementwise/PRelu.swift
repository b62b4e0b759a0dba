import ONNXFormat

// ONNX PRelu: y = x < 0 ? slope * x : x, with `slope` unidirectionally broadcast to X's shape
// (e.g. a per-channel slope [C, 1] against [1, C, T]). Float types and integers.

final class PReluKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let x: TensorBuffer, slope: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan
    let kind: ElementKind

    init(x: TensorBuffer, slope: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan, kind: ElementKind) {
        self.x = x; self.slope = slope; self.out = out; self.plan = plan; self.kind = kind
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        binaryRows(plan, UnsafePointer(elementPointer(x, S.self)), UnsafePointer(elementPointer(slope, S.self)),
                   elementPointer(out, S.self)) { v, s in
            let x = v.math
            return S(math: x < 0 ? s.math * x : x)
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        binaryRows(plan, UnsafePointer(elementPointer(x, T.self)), UnsafePointer(elementPointer(slope, T.self)),
                   elementPointer(out, T.self)) { x, s in x < 0 ? s &* x : x }
    }

    override func run() { kind.visit(self) }
}

extension Operators {
    static let preluOp = OperatorDefinition("PRelu", since: 7) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0), slope = try ctx.input(1)
        let plan = try sameTypeBroadcast(ctx, x, slope)
        guard plan.outputShape == x.shape else {
            throw ctx.error("slope shape \(slope.shape) does not broadcast to input shape \(x.shape)")
        }
        guard let kind = ElementKind(x.dataType), kind != .bool else {
            throw ctx.unsupported("element type \(x.dataType) is not supported")
        }
        let out = try ctx.output(0, x.dataType, x.shape)
        return PReluKernel(x: x, slope: slope, out: out, plan: plan, kind: kind)
    }
}
