import ONNXFormat

// ONNX Expand: numpy broadcast of the input to a load-time-constant shape (a copy whose
// broadcast dimensions read with stride 0).

extension Operators {
    static let expand = OperatorDefinition("Expand", since: 8) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let target = try ctx.constantInts(1)
        guard try ctx.input(1).shape.count == 1 else { throw ctx.error("shape input must be 1-D") }
        for d in target where d < 0 { throw ctx.error("shape \(target) has a negative dimension") }
        guard let shape = BroadcastPlan.resultShape([x.shape, target]) else {
            throw ctx.error("shape \(x.shape) cannot be broadcast to \(target)")
        }
        if ShapeSupport.product(shape) == x.count {
            try ctx.aliasOutput(0, of: x, shape: shape)
            return nil
        }
        let out = try ctx.output(0, x.dataType, shape)
        let rank = shape.count
        let padded = [Int](repeating: 1, count: rank - x.shape.count) + x.shape
        let inStrides = ShapeSupport.strides(padded)
        let src = (0..<rank).map { padded[$0] == 1 ? 0 : inStrides[$0] }
        let plan = StridedCopyPlan(elementSize: x.dataType.byteSize!, shape: shape, srcStrides: src,
                                   dstStrides: ShapeSupport.strides(shape))
        return StridedCopyKernel(from: x, to: out, plan: plan)
    }
}
