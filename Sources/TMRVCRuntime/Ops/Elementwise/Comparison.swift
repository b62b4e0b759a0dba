import ONNXFormat

// ONNX Equal, Less, Greater, LessOrEqual, GreaterOrEqual: comparisons with numpy broadcasting,
// output bool. Inputs: every float and integer type (Equal also bool); string inputs are not
// supported. Comparisons with NaN are false (Equal included), as in IEEE 754.

enum ComparisonOp: Sendable { case equal, less, greater, lessOrEqual, greaterOrEqual }

final class ComparisonKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let op: ComparisonOp
    let a: TensorBuffer, b: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan
    let kind: ElementKind

    init(op: ComparisonOp, a: TensorBuffer, b: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan, kind: ElementKind) {
        self.op = op; self.a = a; self.b = b; self.out = out; self.plan = plan; self.kind = kind
    }

    @inline(__always)
    func compare<E, C: Comparable>(_: E.Type, _ value: (E) -> C) {
        let pa = UnsafePointer(elementPointer(a, E.self)), pb = UnsafePointer(elementPointer(b, E.self))
        let po = elementPointer(out, UInt8.self)
        switch op {
        case .equal: binaryRows(plan, pa, pb, po) { value($0) == value($1) ? 1 : 0 }
        case .less: binaryRows(plan, pa, pb, po) { value($0) < value($1) ? 1 : 0 }
        case .greater: binaryRows(plan, pa, pb, po) { value($0) > value($1) ? 1 : 0 }
        case .lessOrEqual: binaryRows(plan, pa, pb, po) { value($0) <= value($1) ? 1 : 0 }
        case .greaterOrEqual: binaryRows(plan, pa, pb, po) { value($0) >= value($1) ? 1 : 0 }
        }
    }

    @inline(__always) func visitFloat<S: FloatStorage>(_: S.Type) { compare(S.self) { $0.math } }
    @inline(__always) func visitInteger<T: FixedWidthInteger>(_: T.Type) { compare(T.self) { $0 } }
    @inline(__always) func visitBool() { compare(UInt8.self) { $0 != 0 ? UInt8(1) : 0 } }

    override func run() { kind.visit(self) }
}

func makeComparison(_ op: ComparisonOp) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let a = try ctx.input(0), b = try ctx.input(1)
        let plan = try sameTypeBroadcast(ctx, a, b)
        guard let kind = ElementKind(a.dataType), kind != .bool || op == .equal else {
            throw ctx.unsupported("element type \(a.dataType) is not supported")
        }
        let out = try ctx.output(0, .bool, plan.outputShape)
        return ComparisonKernel(op: op, a: a, b: b, out: out, plan: plan, kind: kind)
    }
}

extension Operators {
    static let equalOp = OperatorDefinition("Equal", since: 7, makeComparison(.equal))
    static let lessOp = OperatorDefinition("Less", since: 7, makeComparison(.less))
    static let greaterOp = OperatorDefinition("Greater", since: 7, makeComparison(.greater))
    static let lessOrEqualOp = OperatorDefinition("LessOrEqual", since: 12, makeComparison(.lessOrEqual))
    static let greaterOrEqualOp = OperatorDefinition("GreaterOrEqual", since: 12, makeComparison(.greaterOrEqual))
}
