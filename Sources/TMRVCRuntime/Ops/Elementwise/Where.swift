import ONNXFormat

// ONNX Where: output = condition ? X : Y with three-way numpy broadcasting. X and Y may have
// any element type of 1, 2, 4 or 8 bytes (elements are copied as bit patterns).

final class WhereKernel: Kernel, @unchecked Sendable {
    let condition: TensorBuffer, x: TensorBuffer, y: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan
    let elementSize: Int

    init(condition: TensorBuffer, x: TensorBuffer, y: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan, elementSize: Int) {
        self.condition = condition; self.x = x; self.y = y; self.out = out; self.plan = plan; self.elementSize = elementSize
    }

    @inline(__always)
    func select<E>(_: E.Type) {
        ternaryRows(plan, UnsafePointer(condition.bytes), UnsafePointer(elementPointer(x, E.self)),
                    UnsafePointer(elementPointer(y, E.self)), elementPointer(out, E.self)) { c, a, b in c != 0 ? a : b }
    }

    override func run() {
        switch elementSize {
        case 1: select(UInt8.self)
        case 2: select(UInt16.self)
        case 4: select(UInt32.self)
        default: select(UInt64.self)
        }
    }
}

extension Operators {
    static let whereOp = OperatorDefinition("Where", since: 9) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let c = try ctx.input(0), x = try ctx.input(1), y = try ctx.input(2)
        guard c.dataType == .bool else { throw ctx.error("condition must be bool, got \(c.dataType)") }
        guard x.dataType == y.dataType else { throw ctx.error("X and Y types differ: \(x.dataType) and \(y.dataType)") }
        guard let size = x.dataType.byteSize, [1, 2, 4, 8].contains(size) else {
            throw ctx.unsupported("element type \(x.dataType) is not supported")
        }
        guard let plan = BroadcastPlan([c.shape, x.shape, y.shape]) else {
            throw ctx.error("shapes \(c.shape), \(x.shape) and \(y.shape) cannot be broadcast")
        }
        let out = try ctx.output(0, x.dataType, plan.outputShape)
        return WhereKernel(condition: c, x: x, y: y, out: out, plan: plan, elementSize: size)
    }
}
