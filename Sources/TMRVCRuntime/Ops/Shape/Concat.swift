import ONNXFormat

// ONNX Concat: joins inputs along an axis. Each input is one planned copy into its slot of the
// output; for the causal-conv pattern cat([state, x], dim=2) on [1,C,L] that is one memcpy per
// channel row and input.

extension Operators {
    static let concat = OperatorDefinition("Concat") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        guard ctx.inputCount > 0 else { throw ctx.error("Concat needs at least one input") }
        var parts: [TensorBuffer] = []
        for i in 0..<ctx.inputCount { parts.append(try ctx.input(i)) }
        let first = parts[0]
        let rank = first.shape.count
        guard rank > 0 else { throw ctx.error("cannot concatenate scalars") }
        let axis = try ShapeSupport.axis(try ctx.int("axis", default: ctx.opset < 4 ? 1 : nil), rank: rank, ctx)
        var total = 0
        for p in parts {
            guard p.dataType == first.dataType else {
                throw ctx.error("input types differ: \(first.dataType) and \(p.dataType)")
            }
            guard p.shape.count == rank else { throw ctx.error("input ranks differ: \(first.shape) and \(p.shape)") }
            for d in 0..<rank where d != axis && p.shape[d] != first.shape[d] {
                throw ctx.error("shapes \(first.shape) and \(p.shape) differ outside axis \(axis)")
            }
            total += p.shape[axis]
        }
        var shape = first.shape
        shape[axis] = total
        let nonEmpty = parts.filter { $0.count > 0 }
        if nonEmpty.count == 1 && nonEmpty[0].count == ShapeSupport.product(shape) {
            try ctx.aliasOutput(0, of: nonEmpty[0], shape: shape)
            return nil
        }
        let out = try ctx.output(0, first.dataType, shape)
        let outStrides = ShapeSupport.strides(shape)
        var steps: [StridedCopyKernel.Step] = []
        var offset = 0
        for p in parts {
            defer { offset += p.shape[axis] }
            if p.count == 0 { continue }
            let plan = StridedCopyPlan(elementSize: first.dataType.byteSize!, shape: p.shape,
                                       srcStrides: ShapeSupport.strides(p.shape), dstStrides: outStrides,
                                       dstOffset: offset * outStrides[axis])
            steps.append(.init(source: p, destination: out, plan: plan))
        }
        return StridedCopyKernel(steps)
    }
}
