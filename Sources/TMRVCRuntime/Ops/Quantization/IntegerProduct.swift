import ONNXFormat
import TMRVCKernels

// The product under MatMulInteger and ConvInteger: y(n, t) = sum_k w(n, k) x(k, t), exact in
// Int32 (wrapping on overflow, like ONNX Runtime's int32 accumulators), where x holds the input
// already minus its zero point (int16: uint8 - zero point lies in -255...255) and w the weights
// minus theirs.
// - Constant int8 weights with zero zero points (ONNX Runtime's `quantize_dynamic` files:
//   symmetric per-channel weights) are packed at load into the int8 layout of the runtime's own
//   int8 storage and multiplied by `KernelSet.packedInt8Sums` (vpmaddwd with AVX2), four columns
//   at a time.
// - Anything else (uint8 weights, nonzero weight zero points, grouped convolutions, weights
//   computed at run time) is converted to Int32 minus its zero points, once at load for constant
//   weights and zero points, on every run otherwise, and summed by a plain loop.

/// Integer element types of the quantised operators' operands.
enum QuantizedElement {
    case uint8, int8

    init?(_ type: DataType) {
        switch type {
        case .uint8: self = .uint8
        case .int8: self = .int8
        default: return nil
        }
    }

    /// Element `i` of `buffer` as Int32.
    @inline(__always)
    func value(_ buffer: UnsafeMutableRawPointer, _ i: Int) -> Int32 {
        let byte = buffer.load(fromByteOffset: i, as: UInt8.self)
        return self == .uint8 ? Int32(byte) : Int32(Int8(bitPattern: byte))
    }
}

/// A zero-point input: absent (0), one value, or one value per row of its operand.
struct ZeroPoint {
    let buffer: TensorBuffer?
    let element: QuantizedElement

    /// Validates input `i` of `ctx` against its operand's element type and row count.
    init(_ ctx: NodeContext, input i: Int, operand: QuantizedElement, rows: Int, what: String) throws(RuntimeError) {
        buffer = ctx.optionalInput(i)
        element = operand
        guard let b = buffer else { return }
        guard QuantizedElement(b.dataType) == operand else {
            throw ctx.error("\(what) zero point has type \(b.dataType), its operand's type is required")
        }
        guard b.count == 1 || b.count == rows else {
            throw ctx.error("\(what) zero point has \(b.count) values (shape \(b.shape)); 1 or \(rows) (one per row) are supported")
        }
    }

    /// The zero point of row `r`.
    @inline(__always)
    func value(row r: Int) -> Int32 {
        guard let b = buffer else { return 0 }
        return element.value(b.data, b.count == 1 ? 0 : r)
    }

    /// True when known at load time to be zero everywhere.
    var isConstantZero: Bool {
        guard let b = buffer else { return true }
        return b.isConstant && (0..<b.count).allSatisfy { element.value(b.data, $0) == 0 }
    }
}

/// The weights of an integer product and how to multiply by them (see the file's comment).
final class IntegerProduct: @unchecked Sendable {
    /// Weights `rows` x `depth`; w(n, k) is element `n * nStride + k * kStride` of `source`.
    let source: TensorBuffer, element: QuantizedElement, zeroPoint: ZeroPoint
    let rows: Int, depth: Int, nStride: Int, kStride: Int
    /// Constant int8 weights with zero zero points, in `Int8Layout` (nil: the plain loop).
    let packed: UnsafeMutableRawPointer?
    /// The plain loop's weights minus their zero points, w(n, k) at n * depth + k.
    let converted: UnsafeMutablePointer<Int32>?
    /// The packed product's input pairs, `Int8Layout.scratchCount(depth:)`.
    let pairs: UnsafeMutablePointer<Int32>
    /// Whether the plain loop's weights depend on run-time data (converted on every run).
    let refreshEachRun: Bool
    let kernels = KernelSet.active

    init(_ ctx: NodeContext, weights source: TensorBuffer, zeroPoint: ZeroPoint, rows: Int, depth: Int,
         nStride: Int, kStride: Int, packable: Bool = true) throws(RuntimeError) {
        guard let element = QuantizedElement(source.dataType) else {
            throw ctx.unsupported("weight type \(source.dataType) is not supported (uint8, int8 are)")
        }
        self.source = source; self.element = element; self.zeroPoint = zeroPoint
        self.rows = rows; self.depth = depth; self.nStride = nStride; self.kStride = kStride
        let pairBytes = max(64, Int8Layout.scratchCount(depth: depth) * 4)
        pairs = ctx.workspace(bytes: pairBytes).bindMemory(to: Int32.self, capacity: pairBytes / 4)
        if packable, source.isConstant, element == .int8, zeroPoint.isConstantZero, rows > 0, depth > 0 {
            let bytes = (rows + 15) / 16 * Int8Layout.panelBytes(depth: depth)
            let q = ctx.workspace(bytes: bytes)
            for n in 0..<rows {
                for k in 0..<depth {
                    let v = source.data.load(fromByteOffset: n * nStride + k * kStride, as: UInt8.self)
                    q.storeBytes(of: v, toByteOffset: Int8Layout.offset(row: n, k: k, depth: depth), as: UInt8.self)
                }
            }
            packed = q
            converted = nil
        } else {
            packed = nil
            let count = try ctx.elementCount([rows, depth])
            converted = ctx.workspace(bytes: max(4, count * 4)).bindMemory(to: Int32.self, capacity: max(1, count))
        }
        refreshEachRun = packed == nil && !(source.isConstant && (zeroPoint.buffer?.isConstant ?? true))
        if packed == nil && !refreshEachRun { convert() }
    }

    /// Refreshes the plain loop's weights from run-time weights or zero points; call once per run
    /// before `multiply` (nothing to do for constant weights, converted at load).
    @inline(__always)
    func prepare() {
        if refreshEachRun { convert() }
    }

    private func convert() {
        guard let converted else { return }
        for n in 0..<rows {
            let zp = zeroPoint.value(row: n)
            for k in 0..<depth { converted[n * depth + k] = element.value(source.data, n * nStride + k * kStride) &- zp }
        }
    }

    /// y(n, t) for rows `rowRange` and `columns` columns; column t of x is x[k * xsK + t * xsT];
    /// output (n, t) goes to y[(n - rowRange.lowerBound) * ysN + t * ysT]. Packed weights always
    /// give all rows (hence `packable` only where every call asks for all of them).
    /// One contiguous column (`columns` 1, `xsK` 1) is passed to the kernel as it is (its int16
    /// pairs are the kernel's Int32 elements): x must then be 4-byte aligned and, for an odd
    /// depth, hold a zero after its last element.
    func multiply(x: UnsafePointer<Int16>, xsK: Int, xsT: Int, columns: Int, rows rowRange: Range<Int>,
                  y: UnsafeMutablePointer<Int32>, ysN: Int, ysT: Int) {
        if let packed, columns == 1, xsK == 1 {
            kernels.packedInt8Sums(packed, rows, depth, 1, UnsafeRawPointer(x).assumingMemoryBound(to: Int32.self), 1, y, ysN, ysT)
            return
        }
        if let packed {
            var t0 = 0
            while t0 < columns {
                let c = min(4, columns - t0), stride = columns == 1 ? 1 : 4
                for kp in 0..<(depth + 1) / 2 {
                    let k = 2 * kp
                    for t in 0..<c {
                        let src = x + (t0 + t) * xsT
                        let low = UInt32(UInt16(bitPattern: src[k * xsK]))
                        let high = k + 1 < depth ? UInt32(UInt16(bitPattern: src[(k + 1) * xsK])) : 0
                        pairs[kp * stride + t] = Int32(bitPattern: low | high << 16)
                    }
                }
                kernels.packedInt8Sums(packed, rows, depth, c, pairs, stride, y + t0 * ysT, ysN, ysT)
                t0 += c
            }
            return
        }
        guard let converted else { return }
        for n in rowRange {
            let w = converted + n * depth, out = y + (n - rowRange.lowerBound) * ysN
            for t in 0..<columns {
                let src = x + t * xsT
                var sum: Int32 = 0
                for k in 0..<depth { sum = sum &+ w[k] &* Int32(src[k * xsK]) }
                out[t * ysT] = sum
            }
        }
    }
}

/// x - zero point as int16 for `count` elements from `start`; the zero point of element j is
/// `zeroPoint.value(row: j / rowLength)`.
@inline(__always)
func quantizedOffsets(_ x: TensorBuffer, _ element: QuantizedElement, _ zeroPoint: ZeroPoint, start: Int, count: Int,
                      rowLength: Int, into out: UnsafeMutablePointer<Int16>) {
    var i = 0
    while i < count {
        // One row (one zero point) at a time, in a loop the compiler vectorises.
        let j = start + i
        let n = min(count - i, rowLength - j % rowLength)
        let zp = Int16(truncatingIfNeeded: zeroPoint.value(row: j / rowLength))
        let dst = out + i
        if element == .uint8 {
            let src = UnsafePointer(x.bytes + j)
            for e in 0..<n { dst[e] = Int16(src[e]) &- zp }
        } else {
            let src = UnsafeRawPointer(x.bytes + j).assumingMemoryBound(to: Int8.self)
            for e in 0..<n { dst[e] = Int16(src[e]) &- zp }
        }
        i += n
    }
}
