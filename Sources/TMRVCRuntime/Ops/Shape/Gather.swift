import ONNXFormat

// ONNX Gather: takes slices of `data` along `axis` at the positions in `indices` (int32/int64,
// negative values count from the end). Indices may be run-time values: they are clamped into
// range at run time so that memory is never read out of bounds (load-time-constant indices are
// validated at load instead).

final class GatherKernel: Kernel, @unchecked Sendable {
    let data: TensorBuffer, indices: TensorBuffer, out: TensorBuffer
    let outer: Int, axisLength: Int, indexCount: Int, sliceBytes: Int
    let indices64: Bool
    let elementSize: Int

    init(data: TensorBuffer, indices: TensorBuffer, out: TensorBuffer, outer: Int, axisLength: Int, sliceBytes: Int) {
        self.data = data; self.indices = indices; self.out = out
        self.outer = outer; self.axisLength = axisLength; self.indexCount = indices.count
        self.sliceBytes = sliceBytes
        self.indices64 = indices.dataType == .int64
        self.elementSize = data.dataType.byteSize!
    }

    @inline(__always)
    func index(_ k: Int) -> Int {
        var i = indices64 ? Int(indices.int64s[k]) : Int(indices.int32s[k])
        if i < 0 { i += axisLength }
        return min(max(i, 0), axisLength - 1)
    }

    @inline(__always)
    func typed<T>(_: T.Type) {
        let src = UnsafePointer(data.data.assumingMemoryBound(to: T.self))
        var dst = out.data.assumingMemoryBound(to: T.self)
        for o in 0..<outer {
            let base = src + o * axisLength
            for k in 0..<indexCount {
                dst[0] = base[index(k)]
                dst += 1
            }
        }
    }

    override func run() {
        if indexCount == 0 || outer == 0 || sliceBytes == 0 { return }
        // Typed moves only for single-element slices, whose alignment the element type guarantees.
        switch sliceBytes == elementSize ? sliceBytes : 0 {
        case 4: typed(UInt32.self)
        case 8: typed(UInt64.self)
        case 2: typed(UInt16.self)
        case 1: typed(UInt8.self)
        default:
            let src = UnsafeRawPointer(data.data)
            var dst = out.data
            for o in 0..<outer {
                let base = src + o * axisLength * sliceBytes
                for k in 0..<indexCount {
                    dst.copyMemory(from: base + index(k) * sliceBytes, byteCount: sliceBytes)
                    dst += sliceBytes
                }
            }
        }
    }
}

extension Operators {
    static let gather = OperatorDefinition("Gather") { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let data = try ctx.input(0), indices = try ctx.input(1)
        guard indices.dataType == .int64 || indices.dataType == .int32 else {
            throw ctx.error("indices must be int32 or int64, got \(indices.dataType)")
        }
        let rank = data.shape.count
        guard rank > 0 else { throw ctx.error("data must have rank >= 1") }
        let axis = try ShapeSupport.axis(try ctx.int("axis", default: 0), rank: rank, ctx)
        let length = data.shape[axis]
        if indices.isConstant {
            for i in indices.readInts() where i < -length || i >= length {
                throw ctx.error("index \(i) is out of range for dimension \(length) of axis \(axis)")
            }
        } else if length == 0 && indices.count > 0 {
            throw ctx.error("cannot gather from an empty axis \(axis) of \(data.shape)")
        }
        let shape = Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...])
        let out = try ctx.output(0, data.dataType, shape)
        let slice = ShapeSupport.product(data.shape[(axis + 1)...]) * data.dataType.byteSize!
        return GatherKernel(data: data, indices: indices, out: out,
                            outer: ShapeSupport.product(data.shape[..<axis]), axisLength: length, sliceBytes: slice)
    }
}
