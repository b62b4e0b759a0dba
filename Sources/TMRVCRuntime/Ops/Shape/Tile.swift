import ONNXFormat

// ONNX Tile: repeats the input along each axis (load-time-constant repeats). Planned as a copy
// over [r0, n0, r1, n1, ...] whose repeat dimensions read with stride 0.

extension Operators {
    static let tile = OperatorDefinition("Tile", since: 6) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let repeats = try ctx.constantInts(1)
        let rank = x.shape.count
        guard repeats.count == rank else { throw ctx.error("repeats \(repeats) do not match rank \(rank)") }
        for r in repeats where r < 0 { throw ctx.error("repeats \(repeats) has a negative value") }
        let shape = (0..<rank).map { x.shape[$0] * repeats[$0] }
        if repeats.allSatisfy({ $0 == 1 }) {
            try ctx.aliasOutput(0, of: x, shape: shape)
            return nil
        }
        let out = try ctx.output(0, x.dataType, shape)
        let inStrides = ShapeSupport.strides(x.shape)
        let outStrides = ShapeSupport.strides(shape)
        var dims: [Int] = [], src: [Int] = [], dst: [Int] = []
        for i in 0..<rank {
            dims += [repeats[i], x.shape[i]]
            src += [0, inStrides[i]]
            dst += [x.shape[i] * outStrides[i], outStrides[i]]
        }
        let plan = StridedCopyPlan(elementSize: x.dataType.byteSize!, shape: dims, srcStrides: src, dstStrides: dst)
        return StridedCopyKernel(from: x, to: out, plan: plan)
    }
}
