import ONNXFormat

// ONNX And, Or, Xor (bool with numpy broadcasting) and Not (bool). Any non-zero byte reads as
// true; outputs are 0/1.

enum LogicalOp: Sendable { case and, or, xor }

final class LogicalKernel: Kernel, @unchecked Sendable {
    let op: LogicalOp
    let a: TensorBuffer, b: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan

    init(op: LogicalOp, a: TensorBuffer, b: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan) {
        self.op = op; self.a = a; self.b = b; self.out = out; self.plan = plan
    }

    override func run() {
        let pa = UnsafePointer(a.bytes), pb = UnsafePointer(b.bytes), po = out.bytes
        switch op {
        case .and: binaryRows(plan, pa, pb, po) { $0 != 0 && $1 != 0 ? 1 : 0 }
        case .or: binaryRows(plan, pa, pb, po) { $0 != 0 || $1 != 0 ? 1 : 0 }
        case .xor: binaryRows(plan, pa, pb, po) { ($0 != 0) != ($1 != 0) ? 1 : 0 }
        }
    }
}

final class NotKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, out: TensorBuffer
    init(x: TensorBuffer, out: TensorBuffer) { self.x = x; self.out = out }
    override func run() { mapElements(out.count, UnsafePointer(x.bytes), out.bytes) { $0 == 0 ? 1 : 0 } }
}

func makeLogical(_ op: LogicalOp) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let a = try ctx.input(0), b = try ctx.input(1)
        let plan = try sameTypeBroadcast(ctx, a, b)
        guard a.dataType == .bool else { throw ctx.error("inputs must be bool, got \(a.dataType)") }
        let out = try ctx.output(0, .bool, plan.outputShape)
        return LogicalKernel(op: op, a: a, b: b, out: out, plan: plan)
    }
}

extension Operators {
    static let andOp = OperatorDefinition("And", since: 7, makeLogical(.and))
    static let orOp = OperatorDefinition("Or", since: 7, makeLogical(.or))
    static let xorOp = OperatorDefinition("Xor", since: 7, makeLogical(.xor))

    static let notOp = OperatorDefinition("Not") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard x.dataType == .bool else { throw ctx.error("input must be bool, got \(x.dataType)") }
        let out = try ctx.output(0, .bool, x.shape)
        return NotKernel(x: x, out: out)
    }
}
