import ONNXFormat

/// Runs `body` over every broadcast row of a binary operation (inlined and specialized per use).
@inline(__always)
func binaryRows<A, B, R>(_ plan: BroadcastPlan, _ a: UnsafePointer<A>, _ b: UnsafePointer<B>,
                         _ out: UnsafeMutablePointer<R>, _ body: (A, B) -> R) {
    let n = plan.rowLength
    let sa = plan.rowStrides[0], sb = plan.rowStrides[1]
    plan.rowOffsets[0].withUnsafeBufferPointer { oa in
        plan.rowOffsets[1].withUnsafeBufferPointer { ob in
            var o = out
            for r in 0..<plan.rowCount {
                let pa = a + oa[r], pb = b + ob[r]
                switch (sa, sb) {
                case (1, 1): for i in 0..<n { o[i] = body(pa[i], pb[i]) }
                case (1, 0): let y = pb[0]; for i in 0..<n { o[i] = body(pa[i], y) }
                case (0, 1): let x = pa[0]; for i in 0..<n { o[i] = body(x, pb[i]) }
                default: let v = body(pa[0], pb[0]); for i in 0..<n { o[i] = v }
                }
                o += n
            }
        }
    }
}

/// Element types the arithmetic kernels are specialized for.
enum NumericKind {
    case float, double, int64, int32, int8, uint8, int16, uint16, uint32, uint64, float16

    init?(_ t: DataType) {
        switch t {
        case .float: self = .float
        case .double: self = .double
        case .int64: self = .int64
        case .int32: self = .int32
        case .int8: self = .int8
        case .uint8: self = .uint8
        case .int16: self = .int16
        case .uint16: self = .uint16
        case .uint32: self = .uint32
        case .uint64: self = .uint64
        case .float16: self = .float16
        default: return nil
        }
    }
}
