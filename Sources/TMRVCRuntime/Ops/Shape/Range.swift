import ONNXFormat

// ONNX Range: start + i·delta for i < ceil((limit - start) / delta). The three scalars must be
// load-time constants (the output length depends on them), so the result is a constant.

extension Operators {
    static let range = OperatorDefinition("Range", since: 11) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let start = try ctx.input(0), limit = try ctx.input(1), delta = try ctx.input(2)
        let type = start.dataType
        guard limit.dataType == type, delta.dataType == type else {
            throw ctx.error("start, limit and delta must share one type (\(start.dataType), \(limit.dataType), \(delta.dataType))")
        }
        for b in [start, limit, delta] {
            guard b.count == 1 else { throw ctx.error("'\(b.name)' must be a scalar, got shape \(b.shape)") }
            guard b.isConstant else {
                throw ctx.unsupported("'\(b.name)' must be known at load time (the output length depends on it)")
            }
        }
        let element = type.byteSize ?? 0
        switch type {
        case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64:
            // Exact integer arithmetic.
            func value(_ b: TensorBuffer) -> Int64 { b.dataType == .int64 ? b.int64s[0] : Int64(ShapeSupport.scalar(b)!) }
            let s64 = value(start), l64 = value(limit), d64 = value(delta)
            guard d64 != 0 else { throw ctx.error("delta is 0") }
            let span = l64 - s64
            let count = max(0, d64 > 0 ? (span + d64 - 1) / d64 : (span + d64 + 1) / d64)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(count) * element)
            for i in 0..<count {
                let v = s64 &+ i &* d64
                withUnsafeBytes(of: v.littleEndian) { bytes += $0.prefix(element) }
            }
            try ctx.constantOutput(0, Tensor(dataType: type, shape: [Int(count)], bytes: bytes))
        case .float, .double, .float16, .bfloat16:
            let s = ShapeSupport.scalar(start)!, l = ShapeSupport.scalar(limit)!, d = ShapeSupport.scalar(delta)!
            guard d != 0, s.isFinite, l.isFinite, d.isFinite else { throw ctx.error("invalid range \(s), \(l), \(d)") }
            let count = max(0, Int(((l - s) / d).rounded(.up)))
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count * element)
            for i in 0..<count { bytes += ShapeSupport.scalarBytes(s + Double(i) * d, as: type)! }
            try ctx.constantOutput(0, Tensor(dataType: type, shape: [count], bytes: bytes))
        default:
            throw ctx.unsupported("element type \(type) is not supported")
        }
        return nil
    }
}
