import ONNXFormat

// ONNX MeanVarianceNormalization: y = (x - mean) / (sqrt(variance) + 1e-9), statistics over
// `axes` (default [0, 2, 3]), accumulated in double.

final class MeanVarianceNormKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, y: TensorBuffer
    let kind: NormFloatKind
    let plan: ReducePlan
    /// 2 * outCount doubles: means, then 1 / (std + epsilon).
    let scratch: UnsafeMutablePointer<Double>

    init(x: TensorBuffer, y: TensorBuffer, kind: NormFloatKind, plan: ReducePlan, scratch: UnsafeMutablePointer<Double>) {
        self.x = x; self.y = y; self.kind = kind; self.plan = plan; self.scratch = scratch
    }

    override func run() {
        switch kind {
        case .float: compute(Float.self)
        case .double: compute(Double.self)
        }
    }

    @inline(__always)
    func compute<T: NormFloat>(_: T.Type) {
        let px = UnsafePointer(x.data.assumingMemoryBound(to: T.self))
        let py = y.data.assumingMemoryBound(to: T.self)
        let count = plan.outCount, n = plan.rowLength
        let mean = scratch, scale = scratch + count
        for i in 0..<count { mean[i] = 0; scale[i] = 0 }
        let inverseCount = plan.reduceCount == 0 ? 0 : 1 / Double(plan.reduceCount)
        if plan.innerReduced {
            plan.forEachRow { r, o in
                var s = 0.0
                for i in 0..<n { s += Double(px[r + i]) }
                mean[o] += s
            }
            for i in 0..<count { mean[i] *= inverseCount }
            plan.forEachRow { r, o in
                let m = mean[o]
                var s = 0.0
                for i in 0..<n { let d = Double(px[r + i]) - m; s += d * d }
                scale[o] += s
            }
        } else {
            plan.forEachRow { r, o in
                for i in 0..<n { mean[o + i] += Double(px[r + i]) }
            }
            for i in 0..<count { mean[i] *= inverseCount }
            plan.forEachRow { r, o in
                for i in 0..<n { let d = Double(px[r + i]) - mean[o + i]; scale[o + i] += d * d }
            }
        }
        for i in 0..<count { scale[i] = 1 / ((scale[i] * inverseCount).squareRoot() + 1e-9) }
        if plan.innerReduced {
            plan.forEachRow { r, o in
                let m = mean[o], s = scale[o]
                for i in 0..<n { py[r + i] = T((Double(px[r + i]) - m) * s) }
            }
        } else {
            plan.forEachRow { r, o in
                for i in 0..<n { py[r + i] = T((Double(px[r + i]) - mean[o + i]) * scale[o + i]) }
            }
        }
    }
}

extension Operators {
    static let meanVarianceNormalization = OperatorDefinition("MeanVarianceNormalization", since: 9) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let kind = try ctx.normFloatKind(x, "input")
        let rank = x.shape.count
        let axes = ctx.ints("axes") ?? [0, 2, 3]
        var reduced = [Bool](repeating: false, count: rank)
        for a in axes {
            let d = try ctx.normResolveAxis(a, rank: rank, what: "axis")
            guard !reduced[d] else { throw ctx.error("axis \(a) appears twice in \(axes)") }
            reduced[d] = true
        }
        let y = try ctx.output(0, x.dataType, x.shape)
        let plan = ctx.normReducePlan(shape: x.shape, reduced: reduced)
        let scratch = ctx.workspace(bytes: 2 * max(plan.outCount, 1) * 8).assumingMemoryBound(to: Double.self)
        return MeanVarianceNormKernel(x: x, y: y, kind: kind, plan: plan, scratch: scratch)
    }
}
