import ONNXFormat

// ONNX BitShift (direction LEFT/RIGHT), BitwiseAnd, BitwiseOr, BitwiseXor (integers with numpy
// broadcasting) and BitwiseNot. Shifts by a negative amount or by the bit width or more give 0
// (LEFT) or the sign fill (RIGHT: 0, or -1 for negative signed values); RIGHT is arithmetic for
// signed types.

enum BitwiseOp: Sendable { case shiftLeft, shiftRight, and, or, xor }

final class BitwiseKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let op: BitwiseOp
    let a: TensorBuffer, b: TensorBuffer, out: TensorBuffer
    let plan: BroadcastPlan
    let kind: ElementKind

    init(op: BitwiseOp, a: TensorBuffer, b: TensorBuffer, out: TensorBuffer, plan: BroadcastPlan, kind: ElementKind) {
        self.op = op; self.a = a; self.b = b; self.out = out; self.plan = plan; self.kind = kind
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        let pa = UnsafePointer(elementPointer(a, T.self)), pb = UnsafePointer(elementPointer(b, T.self))
        let po = elementPointer(out, T.self)
        let width = T(T.bitWidth)
        switch op {
        case .shiftLeft:
            binaryRows(plan, pa, pb, po) { x, s in s < 0 || s >= width ? 0 : x &<< s }
        case .shiftRight:
            binaryRows(plan, pa, pb, po) { x, s in s < 0 || s >= width ? (x < 0 ? ~T.zero : 0) : x &>> s }
        case .and: binaryRows(plan, pa, pb, po) { $0 & $1 }
        case .or: binaryRows(plan, pa, pb, po) { $0 | $1 }
        case .xor: binaryRows(plan, pa, pb, po) { $0 ^ $1 }
        }
    }

    override func run() { kind.visit(self) }
}

final class BitwiseNotKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let x: TensorBuffer, out: TensorBuffer
    let kind: ElementKind
    init(x: TensorBuffer, out: TensorBuffer, kind: ElementKind) { self.x = x; self.out = out; self.kind = kind }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        mapElements(out.count, UnsafePointer(elementPointer(x, T.self)), elementPointer(out, T.self)) { ~$0 }
    }

    override func run() { kind.visit(self) }
}

func makeBitwise(_ fixed: BitwiseOp?) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let a = try ctx.input(0), b = try ctx.input(1)
        let plan = try sameTypeBroadcast(ctx, a, b)
        guard let kind = ElementKind(a.dataType), kind.isInteger else {
            throw ctx.unsupported("element type \(a.dataType) is not supported (integers only)")
        }
        let op: BitwiseOp
        if let fixed {
            op = fixed
        } else {
            switch try ctx.string("direction") {
            case "LEFT": op = .shiftLeft
            case "RIGHT": op = .shiftRight
            case let d: throw ctx.error("direction must be LEFT or RIGHT, got '\(d)'")
            }
        }
        let out = try ctx.output(0, a.dataType, plan.outputShape)
        return BitwiseKernel(op: op, a: a, b: b, out: out, plan: plan, kind: kind)
    }
}

extension Operators {
    static let bitShiftOp = OperatorDefinition("BitShift", since: 11, makeBitwise(nil))
    static let bitwiseAndOp = OperatorDefinition("BitwiseAnd", since: 18, makeBitwise(.and))
    static let bitwiseOrOp = OperatorDefinition("BitwiseOr", since: 18, makeBitwise(.or))
    static let bitwiseXorOp = OperatorDefinition("BitwiseXor", since: 18, makeBitwise(.xor))

    static let bitwiseNotOp = OperatorDefinition("BitwiseNot", since: 18) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard let kind = ElementKind(x.dataType), kind.isInteger else {
            throw ctx.unsupported("element type \(x.dataType) is not supported (integers only)")
        }
        let out = try ctx.output(0, x.dataType, x.shape)
        return BitwiseNotKernel(x: x, out: out, kind: kind)
    }
}
