import ONNXFormat

// ONNX ArgMax, ArgMin: int64 index of the first (or, with select_last_index, last) extreme
// value along one axis. A NaN counts as the extreme value (as in numpy).

final class ArgExtremeKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, y: TensorBuffer
    let kind: ReduceKind
    let isMax: Bool, selectLast: Bool
    let outer: Int, n: Int, inner: Int

    init(x: TensorBuffer, y: TensorBuffer, kind: ReduceKind, isMax: Bool, selectLast: Bool, outer: Int, n: Int, inner: Int) {
        self.x = x; self.y = y; self.kind = kind; self.isMax = isMax; self.selectLast = selectLast
        self.outer = outer; self.n = n; self.inner = inner
    }

    override func run() {
        switch kind {
        case .float: compute(Float.self)
        case .double: compute(Double.self)
        case .int64: compute(Int64.self)
        case .int32: compute(Int32.self)
        case .int8: compute(Int8.self)
        case .uint8, .bool: compute(UInt8.self)
        }
    }

    @inline(__always)
    func compute<T: Comparable>(_: T.Type) {
        let px = UnsafePointer(x.data.assumingMemoryBound(to: T.self))
        let py = y.int64s
        let n = self.n, inner = self.inner
        guard n > 0 else { return }
        for o in 0..<outer {
            let block = px + o * n * inner
            for j in 0..<inner {
                var best = block[j]
                var index = 0
                if best != best { py[o * inner + j] = 0; continue }
                for k in 1..<n {
                    let v = block[k * inner + j]
                    if v != v { index = k; break }
                    let better: Bool
                    if isMax {
                        better = selectLast ? v >= best : v > best
                    } else {
                        better = selectLast ? v <= best : v < best
                    }
                    if better { best = v; index = k }
                }
                py[o * inner + j] = Int64(index)
            }
        }
    }
}

func makeArgExtreme(isMax: Bool) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard let kind = ReduceKind(x.dataType), kind != .bool else {
            throw ctx.unsupported("element type \(x.dataType) is not supported")
        }
        let rank = x.shape.count
        guard rank >= 1 else { throw ctx.error("input must have rank >= 1") }
        let axis = try ctx.normResolveAxis(try ctx.int("axis", default: 0), rank: rank)
        let keepDims = try ctx.int("keepdims", default: 1) != 0
        let selectLast = try ctx.int("select_last_index", default: 0) != 0
        guard x.shape[axis] > 0 else { throw ctx.error("cannot take the arg-extreme over an empty axis (\(x.shape))") }
        var outShape = x.shape
        if keepDims { outShape[axis] = 1 } else { outShape.remove(at: axis) }
        let y = try ctx.output(0, .int64, outShape)
        let (outer, n, inner) = normSplit(x.shape, axis: axis)
        return ArgExtremeKernel(x: x, y: y, kind: kind, isMax: isMax, selectLast: selectLast, outer: outer, n: n, inner: inner)
    }
}

extension Operators {
    static let argMax = OperatorDefinition("ArgMax", since: 1, makeArgExtreme(isMax: true))
    static let argMin = OperatorDefinition("ArgMin", since: 1, makeArgExtreme(isMax: false))
}
