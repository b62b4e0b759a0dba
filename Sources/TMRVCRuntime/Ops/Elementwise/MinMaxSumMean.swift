import ONNXFormat

// ONNX Min, Max, Sum, Mean: variadic element-wise reductions over N inputs with numpy
// broadcasting. Min/Max propagate NaN (numpy `minimum`/`maximum`); Min/Max accept every float
// and integer type, Sum/Mean float types (Sum also integers, wrapping). One input is a view.

enum VariadicOp: Sendable { case min, max, sum, mean }

final class VariadicKernel: Kernel, ElementVisitor, @unchecked Sendable {
    let op: VariadicOp
    let inputs: [TensorBuffer]
    let out: TensorBuffer
    /// plans[0] combines inputs 0 and 1 into the output shape; plans[k] combines the output with input k + 1.
    let plans: [BroadcastPlan]
    let kind: ElementKind

    init(op: VariadicOp, inputs: [TensorBuffer], out: TensorBuffer, plans: [BroadcastPlan], kind: ElementKind) {
        self.op = op; self.inputs = inputs; self.out = out; self.plans = plans; self.kind = kind
    }

    @inline(__always)
    func fold<E>(_: E.Type, _ combine: (E, E) -> E) {
        let po = elementPointer(out, E.self)
        binaryRows(plans[0], UnsafePointer(elementPointer(inputs[0], E.self)),
                   UnsafePointer(elementPointer(inputs[1], E.self)), po, combine)
        var k = 1
        while k < plans.count {
            binaryRows(plans[k], UnsafePointer(po), UnsafePointer(elementPointer(inputs[k + 1], E.self)), po, combine)
            k += 1
        }
    }

    @inline(__always)
    func visitFloat<S: FloatStorage>(_: S.Type) {
        switch op {
        case .min: fold(S.self) { a, b in
            let x = a.math, y = b.math
            return x != x || x < y ? a : b
        }
        case .max: fold(S.self) { a, b in
            let x = a.math, y = b.math
            return x != x || x > y ? a : b
        }
        case .sum: fold(S.self) { S(math: $0.math + $1.math) }
        case .mean:
            fold(S.self) { S(math: $0.math + $1.math) }
            let n = S.Math(fromDouble: Double(inputs.count))
            let po = elementPointer(out, S.self)
            mapElements(out.count, UnsafePointer(po), po) { S(math: $0.math / n) }
        }
    }

    @inline(__always)
    func visitInteger<T: FixedWidthInteger>(_: T.Type) {
        switch op {
        case .min: fold(T.self) { Swift.min($0, $1) }
        case .max: fold(T.self) { Swift.max($0, $1) }
        case .sum: fold(T.self) { $0 &+ $1 }
        case .mean: break
        }
    }

    override func run() { kind.visit(self) }
}

func makeVariadic(_ op: VariadicOp) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        var inputs: [TensorBuffer] = []
        for i in 0..<ctx.inputCount { inputs.append(try ctx.input(i)) }
        guard let first = inputs.first else { throw ctx.error("needs at least one input") }
        for x in inputs where x.dataType != first.dataType {
            throw ctx.error("input types differ: \(first.dataType) and \(x.dataType)")
        }
        guard let kind = ElementKind(first.dataType), kind != .bool,
              kind.isFloatingPoint || op == .min || op == .max || op == .sum else {
            throw ctx.unsupported("element type \(first.dataType) is not supported")
        }
        guard let shape = BroadcastPlan.resultShape(inputs.map(\.shape)) else {
            throw ctx.error("shapes \(inputs.map(\.shape)) cannot be broadcast")
        }
        if inputs.count == 1 {
            try ctx.aliasOutput(0, of: first, shape: first.shape)
            return nil
        }
        var plans: [BroadcastPlan] = []
        guard let p0 = BroadcastPlan([inputs[0].shape, inputs[1].shape], target: shape) else {
            throw ctx.error("shapes \(inputs[0].shape) and \(inputs[1].shape) cannot be broadcast to \(shape)")
        }
        plans.append(p0)
        for x in inputs.dropFirst(2) {
            guard let p = BroadcastPlan([shape, x.shape]), p.outputShape == shape else {
                throw ctx.error("shape \(x.shape) cannot be broadcast to \(shape)")
            }
            plans.append(p)
        }
        let out = try ctx.output(0, first.dataType, shape)
        return VariadicKernel(op: op, inputs: inputs, out: out, plans: plans, kind: kind)
    }
}

extension Operators {
    static let minOp = OperatorDefinition("Min", since: 8, makeVariadic(.min))
    static let maxOp = OperatorDefinition("Max", since: 8, makeVariadic(.max))
    static let sumOp = OperatorDefinition("Sum", since: 8, makeVariadic(.sum))
    static let meanOp = OperatorDefinition("Mean", since: 8, makeVariadic(.mean))
}
