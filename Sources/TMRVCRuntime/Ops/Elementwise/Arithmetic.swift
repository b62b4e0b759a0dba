import ONNXFormat

// ONNX Add, Sub, Mul, Div, Pow: binary arithmetic with numpy broadcasting.

enum ArithmeticOp: Sendable { case add, sub, mul, div, pow }

final class ArithmeticKernel: Kernel, @unchecked Sendable {
    let op: ArithmeticOp
    let a: TensorBuffer, b: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan
    let kind: NumericKind

    init(op: ArithmeticOp, a: TensorBuffer, b: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan, kind: NumericKind) {
        self.op = op; self.a = a; self.b = b; self.out = out; self.plan = plan; self.kind = kind
    }

    @inline(__always)
    func floating<T: BinaryFloatingPoint>(_: T.Type, pow powFn: (T, T) -> T) {
        let pa = UnsafePointer(a.data.assumingMemoryBound(to: T.self))
        let pb = UnsafePointer(b.data.assumingMemoryBound(to: T.self))
        let po = out.data.assumingMemoryBound(to: T.self)
        switch op {
        case .add: binaryRows(plan, pa, pb, po) { $0 + $1 }
        case .sub: binaryRows(plan, pa, pb, po) { $0 - $1 }
        case .mul: binaryRows(plan, pa, pb, po) { $0 * $1 }
        case .div: binaryRows(plan, pa, pb, po) { $0 / $1 }
        case .pow: binaryRows(plan, pa, pb, po, powFn)
        }
    }

    @inline(__always)
    func integer<T: FixedWidthInteger>(_: T.Type) {
        let pa = UnsafePointer(a.data.assumingMemoryBound(to: T.self))
        let pb = UnsafePointer(b.data.assumingMemoryBound(to: T.self))
        let po = out.data.assumingMemoryBound(to: T.self)
        switch op {
        case .add: binaryRows(plan, pa, pb, po) { $0 &+ $1 }
        case .sub: binaryRows(plan, pa, pb, po) { $0 &- $1 }
        case .mul: binaryRows(plan, pa, pb, po) { $0 &* $1 }
        case .div: binaryRows(plan, pa, pb, po) { $1 == 0 ? 0 : ($0 == T.min && $1 == -1 ? T.min : $0 / $1) }
        case .pow: binaryRows(plan, pa, pb, po) { x, y in
            T(truncatingIfNeeded: Int64(Foundationless.pow(Double(x), Double(y)))) }
        }
    }

    override func run() {
        switch kind {
        case .float: floating(Float.self) { Foundationless.powf($0, $1) }
        case .double: floating(Double.self) { Foundationless.pow($0, $1) }
        case .int64: integer(Int64.self)
        case .int32: integer(Int32.self)
        case .int16: integer(Int16.self)
        case .int8: integer(Int8.self)
        case .uint8: integer(UInt8.self)
        case .uint16: integer(UInt16.self)
        case .uint32: integer(UInt32.self)
        case .uint64: integer(UInt64.self)
        case .float16: break
        }
    }
}

func makeArithmetic(_ op: ArithmeticOp) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let a = try ctx.input(0), b = try ctx.input(1)
        guard a.dataType == b.dataType else { throw ctx.error("input types differ: \(a.dataType) and \(b.dataType)") }
        guard let kind = NumericKind(a.dataType), kind != .float16 else {
            throw ctx.unsupported("element type \(a.dataType) is not supported")
        }
        if op == .pow && !(kind == .float || kind == .double) && b.dataType != a.dataType {
            throw ctx.unsupported("Pow with mixed types")
        }
        guard let plan = BroadcastPlan([a.shape, b.shape]) else {
            throw ctx.error("shapes \(a.shape) and \(b.shape) cannot be broadcast")
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
