import ONNXFormat

// ONNX GatherElements: out[p] = data[p with p[axis] replaced by indices[p]]. The data offset of
// every output position without its axis term is computed at load; run-time indices are
// clamped into range so memory is never read out of bounds.

final class GatherElementsKernel: Kernel, @unchecked Sendable {
    let data: TensorBuffer, indices: TensorBuffer, out: TensorBuffer
    let base: [Int]
    let axisLength: Int, axisStride: Int, elementSize: Int
    let indices64: Bool

    init(data: TensorBuffer, indices: TensorBuffer, out: TensorBuffer, base: [Int], axisLength: Int, axisStride: Int) {
        self.data = data; self.indices = indices; self.out = out; self.base = base
        self.axisLength = axisLength; self.axisStride = axisStride
        self.elementSize = data.dataType.byteSize!
        self.indices64 = indices.dataType == .int64
    }

    @inline(__always)
    func typed<T>(_: T.Type) {
        let src = UnsafePointer(data.data.assumingMemoryBound(to: T.self))
        let dst = out.data.assumingMemoryBound(to: T.self)
        let n = axisLength
        base.withUnsafeBufferPointer { base in
            for p in 0..<base.count {
                var i = indices64 ? Int(indices.int64s[p]) : Int(indices.int32s[p])
                if i < 0 { i += n }
                i = min(max(i, 0), n - 1)
                dst[p] = src[base[p] + i * axisStride]
            }
        }
    }

    override func run() {
        switch elementSize {
        case 4: typed(UInt32.self)
        case 8: typed(UInt64.self)
        case 2: typed(UInt16.self)
        case 1: typed(UInt8.self)
        default:
            let n = axisLength, size = elementSize
            for p in 0..<base.count {
                var i = indices64 ? Int(indices.int64s[p]) : Int(indices.int32s[p])
                if i < 0 { i += n }
                i = min(max(i, 0), n - 1)
                (out.data + p * size).copyMemory(from: data.data + (base[p] + i * axisStride) * size, byteCount: size)
            }
        }
    }
}

extension Operators {
    static let gatherElements = OperatorDefinition("GatherElements", since: 11) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let data = try ctx.input(0), indices = try ctx.input(1)
        guard indices.dataType == .int64 || indices.dataType == .int32 else {
            throw ctx.error("indices must be int32 or int64, got \(indices.dataType)")
        }
        let rank = data.shape.count
        guard rank > 0, indices.shape.count == rank else {
            throw ctx.error("data \(data.shape) and indices \(indices.shape) must have the same rank >= 1")
        }
        let axis = try ShapeSupport.axis(try ctx.int("axis", default: 0), rank: rank, ctx)
        for d in 0..<rank where d != axis && indices.shape[d] > data.shape[d] {
            throw ctx.error("indices \(indices.shape) exceed data \(data.shape) outside axis \(axis)")
        }
        let length = data.shape[axis]
        if indices.isConstant {
            for i in indices.readInts() where i < -length || i >= length {
                throw ctx.error("index \(i) is out of range for dimension \(length) of axis \(axis)")
            }
        } else if length == 0 && indices.count > 0 {
            throw ctx.error("cannot gather from an empty axis \(axis) of \(data.shape)")
        }
        let out = try ctx.output(0, data.dataType, indices.shape)
        let strides = ShapeSupport.strides(data.shape)
        var base: [Int] = []
        base.reserveCapacity(indices.count)
        var index = [Int](repeating: 0, count: rank)
        for _ in 0..<indices.count {
            var o = 0
            for d in 0..<rank where d != axis { o += index[d] * strides[d] }
            base.append(o)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < indices.shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return GatherElementsKernel(data: data, indices: indices, out: out, base: base,
                                    axisLength: length, axisStride: strides[axis])
    }
}
