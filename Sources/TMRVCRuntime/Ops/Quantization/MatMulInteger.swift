import ONNXFormat

// ONNX MatMulInteger (opset 10): Y (int32) = (A - a_zero_point) (B - b_zero_point), numpy matmul
// shapes with a 1-D or 2-D B (A's batches fold into its rows; a batched B is not supported). A and
// B are uint8 or int8; a_zero_point is a scalar or one value per row of A (shape [M], or A's
// batch dims with [M, 1]), b_zero_point a scalar or one per column of B ([N]). The product is
// `IntegerProduct`: packed int8 kernels for constant symmetric int8 B (ONNX Runtime's
// `quantize_dynamic` files), a plain loop otherwise.

final class MatMulIntegerKernel: Kernel, @unchecked Sendable {
    let a: TensorBuffer, y: TensorBuffer
    let element: QuantizedElement, zeroPoint: ZeroPoint
    let product: IntegerProduct
    /// Rows of A (all batches), inner dimension, columns of B.
    let m: Int, k: Int, n: Int
    /// A - a_zero_point, m x k.
    let offsets: UnsafeMutablePointer<Int16>

    init(a: TensorBuffer, y: TensorBuffer, element: QuantizedElement, zeroPoint: ZeroPoint, product: IntegerProduct,
         m: Int, k: Int, n: Int, offsets: UnsafeMutablePointer<Int16>) {
        self.a = a; self.y = y; self.element = element; self.zeroPoint = zeroPoint; self.product = product
        self.m = m; self.k = k; self.n = n; self.offsets = offsets
    }

    override func run() {
        quantizedOffsets(a, element, zeroPoint, start: 0, count: m * k, rowLength: k, into: offsets)
        product.prepare()
        // Columns of the product are the rows of A; output (n, t) at Y[t * N + n].
        product.multiply(x: offsets, xsK: 1, xsT: k, columns: m, rows: 0..<n, y: y.int32s, ysN: 1, ysT: n)
    }

    override var workEstimate: Int? { m * n * k }
}

func makeMatMulInteger(_ ctx: inout NodeContext) throws(RuntimeError) -> Kernel? {
    let a = try ctx.input(0), b = try ctx.input(1)
    guard let aElement = QuantizedElement(a.dataType) else {
        throw ctx.unsupported("A has type \(a.dataType) (uint8 or int8 are supported)")
    }
    guard !a.shape.isEmpty, b.shape.count == 1 || b.shape.count == 2 else {
        throw ctx.unsupported("shapes \(a.shape) x \(b.shape): A must have rank >= 1 and B rank 1 or 2 (a batched B is not supported)")
    }
    let aShape = a.shape.count == 1 ? [1] + a.shape : a.shape
    let k = aShape[aShape.count - 1], rowsPerBatch = aShape[aShape.count - 2]
    let n = b.shape.count == 1 ? 1 : b.shape[1]
    guard b.shape[0] == k else { throw ctx.error("inner dimensions differ: \(a.shape) x \(b.shape)") }
    let m = try ctx.elementCount(Array(aShape.dropLast()))
    var outShape = Array(aShape.dropLast(2))
    if a.shape.count > 1 { outShape.append(rowsPerBatch) }
    if b.shape.count > 1 { outShape.append(n) }
    let y = try ctx.output(0, .int32, outShape)
    let aZero = try ZeroPoint(ctx, input: 2, operand: aElement, rows: m, what: "A")
    guard let bElement = QuantizedElement(b.dataType) else {
        throw ctx.unsupported("B has type \(b.dataType) (uint8 or int8 are supported)")
    }
    let bZero = try ZeroPoint(ctx, input: 3, operand: bElement, rows: n, what: "B")
    // B is k x n row-major: w(col, kk) = B[kk * n + col].
    let product = try IntegerProduct(ctx, weights: b, zeroPoint: bZero, rows: n, depth: k, nStride: 1, kStride: n)
    let count = try ctx.elementCount([m, k])
    // One element more: a single row of odd length then ends in a zero pair half (IntegerProduct.multiply).
    let offsets = ctx.workspace(bytes: (count + 1) * 2).bindMemory(to: Int16.self, capacity: count + 1)
    return MatMulIntegerKernel(a: a, y: y, element: aElement, zeroPoint: aZero, product: product, m: m, k: k, n: n, offsets: offsets)
}

extension Operators {
    static let matMulInteger = OperatorDefinition("MatMulInteger", since: 10, makeMatMulInteger)
}
