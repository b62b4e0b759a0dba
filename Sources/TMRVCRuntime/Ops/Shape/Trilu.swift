import ONNXFormat

// ONNX Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two
// dimensions and zeroes the rest. Type-agnostic (copies and zero bytes). `k` does not affect
// the shape, so it may be a run-time scalar.

final class TriluKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, out: TensorBuffer
    /// Run-time k (nil when known at load).
    let kInput: TensorBuffer?
    let constantK: Int
    let matrices: Int, rows: Int, cols: Int, upper: Bool, elementSize: Int

    init(x: TensorBuffer, out: TensorBuffer, k: Int, kInput: TensorBuffer?, upper: Bool) {
        self.x = x; self.out = out; self.constantK = k; self.kInput = kInput; self.upper = upper
        let r = x.shape.count
        rows = x.shape[r - 2]; cols = x.shape[r - 1]
        matrices = rows * cols == 0 ? 0 : x.count / (rows * cols)
        elementSize = x.dataType.byteSize!
    }

    override func run() {
        var k = constantK
        if let kInput {
            // Clamped so that i + k cannot overflow; any |k| beyond the matrix acts the same.
            let raw = kInput.dataType == .int64 ? Int(kInput.int64s[0]) : Int(kInput.int32s[0])
            k = min(max(raw, -(rows + 1)), cols + 1)
        }
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
        var kInput: TensorBuffer? = nil
        if let kb = ctx.optionalInput(1) {
            guard kb.dataType == .int64 || kb.dataType == .int32 else { throw ctx.error("k must be int64, got \(kb.dataType)") }
            guard kb.count == 1 else { throw ctx.error("k must be a scalar, got shape \(kb.shape)") }
            if kb.isConstant {
                let r = x.shape.count
                k = min(max(kb.readInts()[0], -(x.shape[r - 2] + 1)), x.shape[r - 1] + 1)
            } else {
                kInput = kb
            }
        }
        let upper = try ctx.int("upper", default: 1) != 0
        let out = try ctx.output(0, x.dataType, x.shape)
        return TriluKernel(x: x, out: out, k: k, kInput: kInput, upper: upper)
    }
}
