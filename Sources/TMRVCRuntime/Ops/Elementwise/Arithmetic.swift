import ONNXFormat

// ONNX Add, Sub, Mul, Div: binary arithmetic with numpy broadcasting, for float32/float64/
// float16/bfloat16 and every fixed-width integer type. Integer ops wrap; integer Div truncates
// toward zero (division by zero gives 0 rather than trapping).

enum ArithmeticOp: Sendable { case add, sub, mul, div }

final class ArithmeticKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let op: ArithmeticOp
    let a: TensorBuffer, b: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan
    let kind: ElementKind

    init(op: ArithmeticOp, a: TensorBuffer, b: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan, kind: ElementKind) {
        self.op = op; self.a = a; self.b = b; self.out = out; self.plan = plan; self.kind = kind
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        let pa = UnsafePointer(elementPointer(a, S.self)), pb = UnsafePointer(elementPointer(b, S.self))
        let po = elementPointer(out, S.self)
        switch op {
        case .add: binaryRows(plan, pa, pb, po) { S(math: $0.math + $1.math) }
        case .sub: binaryRows(plan, pa, pb, po) { S(math: $0.math - $1.math) }
        case .mul: binaryRows(plan, pa, pb, po) { S(math: $0.math * $1.math) }
        case .div: binaryRows(plan, pa, pb, po) { S(math: $0.math / $1.math) }
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        let pa = UnsafePointer(elementPointer(a, T.self)), pb = UnsafePointer(elementPointer(b, T.self))
        let po = elementPointer(out, T.self)
        switch op {
        case .add: binaryRows(plan, pa, pb, po) { $0 &+ $1 }
        case .sub: binaryRows(plan, pa, pb, po) { $0 &- $1 }
        case .mul: binaryRows(plan, pa, pb, po) { $0 &* $1 }
        case .div: binaryRows(plan, pa, pb, po) { x, y in
            let (q, overflow) = x.dividedReportingOverflow(by: y)
            return overflow && y == 0 ? 0 : q
        }
        }
    }

    override func run() { kind.visit(self) }
}

/// Checks that two inputs have one element type and broadcast together; returns the plan.
func sameTypeBroadcast(_ ctx: NodeContext, _ a: TensorBuffer, _ b: TensorBuffer) throws(RuntimeError) -> BroadcastPlan {
    guard a.dataType == b.dataType else { throw ctx.error("input types differ: \(a.dataType) and \(b.dataType)") }
    guard let plan = BroadcastPlan([a.shape, b.shape]) else {
        throw ctx.error("shapes \(a.shape) and \(b.shape) cannot be broadcast")
    }
    return plan
}

func makeArithmetic(_ op: ArithmeticOp) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let a = try ctx.input(0), b = try ctx.input(1)
        let plan = try sameTypeBroadcast(ctx, a, b)
        guard let kind = ElementKind(a.dataType), kind != .bool else {
            throw ctx.unsupported("element type \(a.dataType) is not supported")
        }
        let out = try ctx.output(0, a.dataType, plan.outputShape)
        return ArithmeticKernel(op: op, a: a, b: b, out: out, plan: plan, kind: kind)
    }
}

extension Operators {
    static let add = OperatorDefinition("Add", since: 7, makeArithmetic(.add))
    static let sub = OperatorDefinition("Sub", since: 7, makeArithmetic(.sub))
    static let mul = OperatorDefinition("Mul", since: 7, makeArithmetic(.mul))
    static let div = OperatorDefinition("Div", since: 7, makeArithmetic(.div))
}
