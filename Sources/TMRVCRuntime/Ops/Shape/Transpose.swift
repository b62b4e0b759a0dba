import ONNXFormat

// ONNX Transpose: permutes dimensions. A permutation that only moves size-1 dimensions is a
// view; otherwise a strided copy (with a cache-blocked path for 2-D swaps such as
// [1,C,T] <-> [1,T,C]).

extension Operators {
    static let transpose = OperatorDefinition("Transpose") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let rank = x.shape.count
        let perm = ctx.ints("perm") ?? Array((0..<rank).reversed())
        guard perm.count == rank, perm.sorted() == Array(0..<rank) else {
            throw ctx.error("perm \(perm) is not a permutation of 0..<\(rank)")
        }
        let shape = perm.map { x.shape[$0] }
        if ShapeSupport.isViewPermutation(perm, of: x.shape) {
            try ctx.aliasOutput(0, of: x, shape: shape)
            return nil
        }
        let out = try ctx.output(0, x.dataType, shape)
        let inStrides = ShapeSupport.strides(x.shape)
        let plan = StridedCopyPlan(elementSize: x.dataType.byteSize!, shape: shape,
                                   srcStrides: perm.map { inStrides[$0] },
                                   dstStrides: ShapeSupport.strides(shape))
        return StridedCopyKernel(from: x, to: out, plan: plan)
    }
}
