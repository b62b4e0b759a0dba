import ONNXFormat

// ONNX Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two
// dimensions and zeroes the rest. Type-agnostic (copies and zero bytes).

final class TriluKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, out: TensorBuffer
    let matrices: Int, rows: Int, cols: Int, k: Int, upper: Bool, elementSize: Int

    init(x: TensorBuffer, out: TensorBuffer, k: Int, upper: Bool) {
        self.x = x; self.out = out; self.k = k; self.upper = upper
        let r = x.shape.count
        rows = x.shape[r - 2]; cols = x.shape[r - 1]
        matrices = rows * cols == 0 ? 0 : x.count / (rows * cols)
        elementSize = x.dataType.byteSize!
    }

    override func run() {
        let rowBytes = cols * elementSize
        var s = UnsafeRawPointer(x.data)
        var d = out.data
        for _ in 0..<matrices {
            for i in 0..<rows {
                // Kept columns [keepStart, keepEnd).
                let keepStart = upper ? min(max(i + k, 0), cols) : 0
                let keepEnd = upper ? cols : min(max(i + k + 1, 0), cols)
                if keepStart > 0 {
                    d.initializeMemory(as: UInt8.self, repeating: 0, count: keepStart * elementSize)
                }
                if keepEnd > keepStart {
                    (d + keepStart * elementSize).copyMemory(from: s + keepStart * elementSize,
                                                             byteCount: (keepEnd - keepStart) * elementSize)
                }
                if keepEnd < cols {
                    (d + keepEnd * elementSize).initializeMemory(as: UInt8.self, repeating: 0,
                                                                 count: (cols - keepEnd) * elementSize)
                }
                s += rowBytes
                d += rowBytes
            }
        }
    }
}

extension Operators {
    static let trilu = OperatorDefinition("Trilu", since: 14) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard x.shape.count >= 2 else { throw ctx.error("input must have rank >= 2, got shape \(x.shape)") }
        var k = 0
        if ctx.optionalInput(1) != nil {
            let v = try ctx.constantInts(1)
            guard v.count == 1 else { throw ctx.error("k must be a scalar") }
            k = v[0]
        }
        let upper = try ctx.int("upper", default: 1) != 0
        let out = try ctx.output(0, x.dataType, x.shape)
        return TriluKernel(x: x, out: out, k: k, upper: upper)
    }
}
