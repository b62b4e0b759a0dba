import ONNXFormat

// ONNX DepthToSpace and SpaceToDepth: a reshape to 6-D, a transpose and a reshape back,
// planned as one strided copy. Modes DCR (default) and CRD.

/// One strided copy that reads `x` viewed as `view` in the order `perm` into `out`.
private func permutedCopy(_ x: TensorBuffer, view: [Int], perm: [Int], into out: TensorBuffer) -> Kernel {
    let viewStrides = ShapeSupport.strides(view)
    let shape = perm.map { view[$0] }
    let plan = StridedCopyPlan(elementSize: x.dataType.byteSize!, shape: shape,
                               srcStrides: perm.map { viewStrides[$0] }, dstStrides: ShapeSupport.strides(shape))
    return StridedCopyKernel(from: x, to: out, plan: plan)
}

private func blockMode(_ ctx: NodeContext) throws(RuntimeError) -> (Int, Bool) {
    let b = try ctx.int("blocksize")
    guard b >= 1 else { throw ctx.error("blocksize \(b) must be positive") }
    let mode = try ctx.string("mode", default: "DCR")
    guard mode == "DCR" || mode == "CRD" else { throw ctx.error("unknown mode '\(mode)'") }
    return (b, mode == "CRD")
}

extension Operators {
    static let depthToSpace = OperatorDefinition("DepthToSpace") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard x.shape.count == 4 else { throw ctx.error("input must be 4-D, got shape \(x.shape)") }
        let (b, crd) = try blockMode(ctx)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard c % (b * b) == 0 else { throw ctx.error("channels \(c) are not divisible by blocksize² \(b * b)") }
        let cOut = c / (b * b)
        let out = try ctx.output(0, x.dataType, [n, cOut, h * b, w * b])
        if crd {
            return permutedCopy(x, view: [n, cOut, b, b, h, w], perm: [0, 1, 4, 2, 5, 3], into: out)
        }
        return permutedCopy(x, view: [n, b, b, cOut, h, w], perm: [0, 3, 4, 1, 5, 2], into: out)
    }

    static let spaceToDepth = OperatorDefinition("SpaceToDepth") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard x.shape.count == 4 else { throw ctx.error("input must be 4-D, got shape \(x.shape)") }
        let (b, crd) = try blockMode(ctx)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard h % b == 0, w % b == 0 else { throw ctx.error("spatial size \(h)x\(w) is not divisible by blocksize \(b)") }
        let out = try ctx.output(0, x.dataType, [n, c * b * b, h / b, w / b])
        let view = [n, c, h / b, b, w / b, b]
        return permutedCopy(x, view: view, perm: crd ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4], into: out)
    }
}
