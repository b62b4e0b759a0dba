import ONNXFormat

// ONNX Gemm: Y = alpha * op(A) * op(B) + beta * C, C optional and unidirectionally broadcast to
// [M, N]. float32 runs as one BLAS call (GEMV when M or N is 1) after filling Y with beta * C;
// float64 and integers use a naive loop; float16/bfloat16 run through the float32 kernel.

final class GemmKernel: Kernel, @unchecked Sendable {
    let a: TensorBuffer, b: TensorBuffer, c: TensorBuffer?, y: TensorBuffer
    let element: LinalgElement
    let transA: Bool, transB: Bool
    let m: Int, n: Int, k: Int
    let alpha: Float, beta: Float
    /// Element strides of C along Y's rows and columns (0 where broadcast).
    let cRow: Int, cCol: Int

    /// Constant B (and bias beta * C) repacked for batch-1 products, chosen at load.
    let packed: PackedMatrix?
    let scratch: UnsafeMutablePointer<Float>?
    /// Fused activation (Gemm + Gelu), applied after BLAS when not packed.
    let epilogueActivation: FusedActivation

    init(a: TensorBuffer, b: TensorBuffer, c: TensorBuffer?, y: TensorBuffer, element: LinalgElement,
         transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float, cRow: Int, cCol: Int,
         packed: PackedMatrix? = nil, scratch: UnsafeMutablePointer<Float>? = nil, epilogueActivation: FusedActivation = .none) {
        self.a = a; self.b = b; self.c = c; self.y = y; self.element = element
        self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k
        self.alpha = alpha; self.beta = beta; self.cRow = cRow; self.cCol = cCol
        self.packed = packed; self.scratch = scratch; self.epilogueActivation = epilogueActivation
    }

    /// Integers and float64 (alpha and beta are 1 or beta is 0 for integers; checked at load).
    @inline(__always)
    func naive<T: LinalgScalar>(_: T.Type, scale: (T, Float) -> T, add: (T, T) -> T) {
        let pa = UnsafePointer(a.data.assumingMemoryBound(to: T.self))
        let pb = UnsafePointer(b.data.assumingMemoryBound(to: T.self))
        let py = y.data.assumingMemoryBound(to: T.self)
        linalgNaiveProduct(pa, aRow: transA ? 1 : k, aCol: transA ? m : 1,
                           pb, bRow: transB ? 1 : n, bCol: transB ? k : 1, py, ldc: n, m: m, n: n, k: k)
        if alpha != 1 { for i in 0..<(m * n) { py[i] = scale(py[i], alpha) } }
        if let c, beta != 0 {
            let pc = UnsafePointer(c.data.assumingMemoryBound(to: T.self))
            for i in 0..<m {
                for j in 0..<n { py[i * n + j] = add(py[i * n + j], scale(pc[i * cRow + j * cCol], beta)) }
            }
        }
    }

    override func run() {
        switch element {
        case .float:
            let py = y.floats
            if let packed {
                packed.multiply(x: UnsafePointer(a.floats), xsK: transA ? m : 1, xsT: transA ? 1 : k, columns: m,
                                y: py, ysN: 1, ysT: n, scratch: scratch)
                return
            }
            var blasBeta: Float = 0
            if let c, beta != 0 {
                let pc = UnsafePointer(c.floats)
                let (cRow, cCol, beta) = (self.cRow, self.cCol, self.beta)
                for i in 0..<m {
                    let row = py + i * n, src = pc + i * cRow
                    if cCol == 1 {
                        if beta == 1 { for j in 0..<n { row[j] = src[j] } } else { for j in 0..<n { row[j] = beta * src[j] } }
                    } else {
                        let v = beta * src[0]
                        for j in 0..<n { row[j] = v }
                    }
                }
                blasBeta = 1
            }
            linalgSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                        a: UnsafePointer(a.floats), lda: transA ? m : k,
                        b: UnsafePointer(b.floats), ldb: transB ? k : n,
                        beta: blasBeta, c: py, ldc: n)
            epilogueActivation.apply(py, count: m * n)
        case .double: naive(Double.self, scale: { $0 * Double($1) }, add: +)
        case .int32: naive(Int32.self, scale: { x, _ in x }, add: &+)
        case .int64: naive(Int64.self, scale: { x, _ in x }, add: &+)
        case .uint32: naive(UInt32.self, scale: { x, _ in x }, add: &+)
        case .uint64: naive(UInt64.self, scale: { x, _ in x }, add: &+)
        }
    }
}

func makeGemm(_ ctx: inout NodeContext) throws(RuntimeError) -> Kernel? {
    let a = try ctx.input(0), b = try ctx.input(1)
    let c = ctx.optionalInput(2)
    guard a.dataType == b.dataType, c == nil || c!.dataType == a.dataType else {
        throw ctx.error("input types differ: \(a.dataType), \(b.dataType)\(c.map { ", \($0.dataType)" } ?? "")")
    }
    if linalgIsHalf(a.dataType) { return try linalgHalfAdapter(&ctx, makeGemm) }
    guard let element = LinalgElement(a.dataType) else {
        throw ctx.unsupported("element type \(a.dataType) is not supported")
    }
    guard a.shape.count == 2, b.shape.count == 2 else {
        throw ctx.error("A and B must be 2-D, got \(a.shape) and \(b.shape)")
    }
    let transA = try ctx.int("transA", default: 0) != 0
    let transB = try ctx.int("transB", default: 0) != 0
    let alpha = try ctx.float("alpha", default: 1)
    let beta = try ctx.float("beta", default: 1)
    let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (kb, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    guard k == kb else {
        throw ctx.error("inner dimensions differ: A \(a.shape) (transA=\(transA ? 1 : 0)), B \(b.shape) (transB=\(transB ? 1 : 0))")
    }
    var cRow = 0, cCol = 0
    if let c {
        // Unidirectional broadcast of C to [M, N].
        guard c.shape.count <= 2 else { throw ctx.error("C must have rank <= 2, got \(c.shape)") }
        let padded = [Int](repeating: 1, count: 2 - c.shape.count) + c.shape
        guard padded[0] == m || padded[0] == 1, padded[1] == n || padded[1] == 1 else {
            throw ctx.error("C \(c.shape) cannot be broadcast to [\(m), \(n)]")
        }
        cCol = padded[1] == 1 ? 0 : 1
        cRow = padded[0] == 1 ? 0 : padded[1]
    }
    switch element {
    case .float:
        _ = linalgBLASConfigured
        guard max(m, n, k) < linalgBLASLimit else { throw ctx.unsupported("dimensions exceed BLAS limits") }
    case .double: break
    case .int32, .int64, .uint32, .uint64:
        guard alpha == 1, beta == 1 || beta == 0 else {
            throw ctx.unsupported("integer Gemm needs alpha = 1 and beta = 0 or 1 (got alpha \(alpha), beta \(beta))")
        }
    }
    let y = try ctx.output(0, a.dataType, [m, n])
    let activation = ctx.epilogue?.activation ?? .none
    if ctx.epilogue?.bias != nil { throw ctx.error("internal: fused bias on Gemm") }
    // Batch-1 products on constant weights: packed SIMD kernel with the bias beta * C folded in
    // (when C is constant and broadcast over rows) and alpha = 1.
    if element == .float, b.isConstant, alpha == 1, m > 0, n > 0, k > 0, c == nil || (c!.isConstant && cRow == 0),
       linalgUsePacked(columns: m, storage: ctx.weightStorage) {
        var bias: [Float]? = nil
        if let c, beta != 0 { bias = (0..<n).map { beta * c.floats[$0 * cCol] } }
        let memory = ctx.memory
        let packed = bias.withOptionalPointer { pb in
            transB
                ? PackedMatrix(rowMajorNK: UnsafePointer(b.floats), rows: n, depth: k, ld: k, storage: ctx.weightStorage,
                               bias: pb, activation: activation, allocate: { memory.allocate(bytes: $0) })
                : PackedMatrix(rowMajorKN: UnsafePointer(b.floats), rows: n, depth: k, ld: n, storage: ctx.weightStorage,
                               bias: pb, activation: activation, allocate: { memory.allocate(bytes: $0) })
        }
        let count = PackedMatrix.scratchCount(depth: k, columns: m)
        let needsScratch = count > 0 || transA
        let scratch = needsScratch ? ctx.workspace(bytes: max(count, k * 4) * 4).bindMemory(to: Float.self, capacity: max(count, k * 4)) : nil
        return GemmKernel(a: a, b: b, c: c, y: y, element: element, transA: transA, transB: transB,
                          m: m, n: n, k: k, alpha: alpha, beta: beta, cRow: cRow, cCol: cCol, packed: packed, scratch: scratch)
    }
    return GemmKernel(a: a, b: b, c: c, y: y, element: element, transA: transA, transB: transB,
                      m: m, n: n, k: k, alpha: alpha, beta: beta, cRow: cRow, cCol: cCol, epilogueActivation: activation)
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with a pointer to the array's elements, or nil.
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        }
    }
}

extension Operators {
    static let gemm = OperatorDefinition("Gemm", since: 7, makeGemm)
}
