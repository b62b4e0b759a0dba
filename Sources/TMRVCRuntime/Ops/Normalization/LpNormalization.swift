import ONNXFormat

// ONNX LpNormalization: y = x / ||x||_p along one axis (p = 1 or 2). A zero norm gives zeros
// (as ONNX Runtime does) rather than NaN.

final class LpNormKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, y: TensorBuffer
    let kind: NormFloatKind
    let p: Int
    let outer: Int, n: Int, inner: Int

    init(x: TensorBuffer, y: TensorBuffer, kind: NormFloatKind, p: Int, outer: Int, n: Int, inner: Int) {
        self.x = x; self.y = y; self.kind = kind; self.p = p; self.outer = outer; self.n = n; self.inner = inner
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
        let n = self.n, inner = self.inner
        for o in 0..<outer {
            let block = px + o * n * inner, out = py + o * n * inner
            for j in 0..<inner {
                var s: T = 0
                if p == 1 {
                    for k in 0..<n { s += abs(block[k * inner + j]) }
                } else {
                    for k in 0..<n { let v = block[k * inner + j]; s += v * v }
                    s = T.nSqrt(s)
                }
                if s == 0 {
                    for k in 0..<n { out[k * inner + j] = 0 }
                } else {
                    for k in 0..<n { out[k * inner + j] = block[k * inner + j] / s }
                }
            }
        }
    }
}

extension Operators {
    static let lpNormalization = OperatorDefinition("LpNormalization", since: 1) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let kind = try ctx.normFloatKind(x, "input")
        guard x.shape.count >= 1 else { throw ctx.error("input must have rank >= 1") }
        let axis = try ctx.normResolveAxis(try ctx.int("axis", default: -1), rank: x.shape.count)
        let p = try ctx.int("p", default: 2)
        guard p == 1 || p == 2 else { throw ctx.error("p must be 1 or 2, got \(p)") }
        let (outer, n, inner) = normSplit(x.shape, axis: axis)
        let y = try ctx.output(0, x.dataType, x.shape)
        return LpNormKernel(x: x, y: y, kind: kind, p: p, outer: outer, n: n, inner: inner)
    }
}
