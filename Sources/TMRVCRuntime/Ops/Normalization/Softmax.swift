import ONNXFormat

// ONNX Softmax, LogSoftmax, Hardmax.
// Opset 13+: along one axis (default -1). Older opsets: the input is coerced to 2-D
// [prod(dims[..<axis]), prod(dims[axis...])] (default axis 1) and the op runs along the rows.

enum SoftmaxVariant: Sendable { case softmax, logSoftmax, hardmax }

final class SoftmaxKernel: Kernel, @unchecked Sendable {
    let variant: SoftmaxVariant
    let x: TensorBuffer, y: TensorBuffer
    let kind: NormFloatKind
    let outer: Int, n: Int, inner: Int
    /// 2 * inner elements of the element type (running max, running sum) when inner > 1.
    let scratch: UnsafeMutableRawPointer

    init(variant: SoftmaxVariant, x: TensorBuffer, y: TensorBuffer, kind: NormFloatKind,
         outer: Int, n: Int, inner: Int, scratch: UnsafeMutableRawPointer) {
        self.variant = variant; self.x = x; self.y = y; self.kind = kind
        self.outer = outer; self.n = n; self.inner = inner; self.scratch = scratch
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
        guard n > 0 else { return }
        if variant == .hardmax {
            hardmax(px, py)
        } else if inner == 1 {
            rows(px, py)
        } else {
            strided(px, py)
        }
    }

    @inline(__always)
    func rows<T: NormFloat>(_ px: UnsafePointer<T>, _ py: UnsafeMutablePointer<T>) {
        let n = self.n
        for o in 0..<outer {
            let row = px + o * n, out = py + o * n
            var m = row[0]
            for i in 1..<n where row[i] > m { m = row[i] }
            var s: T = 0
            if variant == .softmax {
                for i in 0..<n { let e = T.nExp(row[i] - m); out[i] = e; s += e }
                let inv = 1 / s
                for i in 0..<n { out[i] *= inv }
            } else {
                for i in 0..<n { s += T.nExp(row[i] - m) }
                let shift = m + T.nLog(s)
                for i in 0..<n { out[i] = row[i] - shift }
            }
        }
    }

    @inline(__always)
    func strided<T: NormFloat>(_ px: UnsafePointer<T>, _ py: UnsafeMutablePointer<T>) {
        let n = self.n, inner = self.inner
        let mx = scratch.assumingMemoryBound(to: T.self)
        let sum = mx + inner
        for o in 0..<outer {
            let block = px + o * n * inner, out = py + o * n * inner
            for j in 0..<inner { mx[j] = block[j]; sum[j] = 0 }
            for k in 1..<n {
                let r = block + k * inner
                for j in 0..<inner where r[j] > mx[j] { mx[j] = r[j] }
            }
            if variant == .softmax {
                for k in 0..<n {
                    let r = block + k * inner, w = out + k * inner
                    for j in 0..<inner { let e = T.nExp(r[j] - mx[j]); w[j] = e; sum[j] += e }
                }
                for j in 0..<inner { sum[j] = 1 / sum[j] }
                for k in 0..<n {
                    let w = out + k * inner
                    for j in 0..<inner { w[j] *= sum[j] }
                }
            } else {
                for k in 0..<n {
                    let r = block + k * inner
                    for j in 0..<inner { sum[j] += T.nExp(r[j] - mx[j]) }
                }
                for j in 0..<inner { mx[j] += T.nLog(sum[j]) }
                for k in 0..<n {
                    let r = block + k * inner, w = out + k * inner
                    for j in 0..<inner { w[j] = r[j] - mx[j] }
                }
            }
        }
    }

    @inline(__always)
    func hardmax<T: NormFloat>(_ px: UnsafePointer<T>, _ py: UnsafeMutablePointer<T>) {
        let n = self.n, inner = self.inner
        for o in 0..<outer {
            let block = px + o * n * inner, out = py + o * n * inner
            for j in 0..<inner {
                var best = 0
                var m = block[j]
                for k in 1..<n where block[k * inner + j] > m { m = block[k * inner + j]; best = k }
                for k in 0..<n { out[k * inner + j] = k == best ? 1 : 0 }
            }
        }
    }
}

func makeSoftmax(_ variant: SoftmaxVariant) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let kind = try ctx.normFloatKind(x, "input")
        let rank = x.shape.count
        guard rank >= 1 else { throw ctx.error("input must have rank >= 1, got a scalar") }
        let outer: Int, n: Int, inner: Int
        if ctx.opset >= 13 {
            let axis = try ctx.normResolveAxis(try ctx.int("axis", default: -1), rank: rank)
            (outer, n, inner) = normSplit(x.shape, axis: axis)
        } else {
            // Flatten-to-2-D semantics of opset 1-12; axis == rank is allowed (one column each).
            let a = try ctx.int("axis", default: 1)
            let axis = a < 0 ? a + rank : a
            guard axis >= 0 && axis <= rank else { throw ctx.error("axis \(a) is out of range for rank \(rank)") }
            outer = x.shape[..<axis].reduce(1, *)
            n = x.shape[axis...].reduce(1, *)
            inner = 1
        }
        let y = try ctx.output(0, x.dataType, x.shape)
        let elementSize = kind == .float ? 4 : 8
        let scratch = ctx.workspace(bytes: inner > 1 && variant != .hardmax ? 2 * inner * elementSize : 0)
        return SoftmaxKernel(variant: variant, x: x, y: y, kind: kind, outer: outer, n: n, inner: inner, scratch: scratch)
    }
}

extension Operators {
    static let softmax = OperatorDefinition("Softmax", since: 1, makeSoftmax(.softmax))
    static let logSoftmax = OperatorDefinition("LogSoftmax", since: 1, makeSoftmax(.logSoftmax))
    static let hardmax = OperatorDefinition("Hardmax", since: 1, makeSoftmax(.hardmax))
}
