import ONNXFormat

// ONNX MatMul: numpy matmul semantics (1-D operands promoted and their unit dimension removed,
// batch dimensions broadcast). float32 runs through BLAS: when B has no batch (weights of a
// linear layer), all of A's batches fold into one GEMM/GEMV; otherwise one call per batch with
// offsets precomputed at load. float64 and integer types use a naive loop; float16/bfloat16
// run through the float32 kernel.

final class MatMulKernel: Kernel, @unchecked Sendable {
    let a: TensorBuffer, b: TensorBuffer, y: TensorBuffer
    let element: LinalgElement
    /// Rows, inner and columns of each product (after folding batches into m).
    let m: Int, k: Int, n: Int
    /// Element offsets of each product's A and B (Y is contiguous, m * n per product).
    let aOffsets: [Int], bOffsets: [Int]
    /// Constant B repacked for batch-1 products (chosen at load for few rows or fp16 storage).
    let packed: PackedMatrix?
    let scratch: UnsafeMutablePointer<Float>?
    /// Fused bias (along n) and activation, applied after BLAS when not packed.
    let epilogueBias: TensorBuffer?
    let epilogueActivation: FusedActivation

    init(a: TensorBuffer, b: TensorBuffer, y: TensorBuffer, element: LinalgElement,
         m: Int, k: Int, n: Int, aOffsets: [Int], bOffsets: [Int],
         packed: PackedMatrix? = nil, scratch: UnsafeMutablePointer<Float>? = nil,
         epilogueBias: TensorBuffer? = nil, epilogueActivation: FusedActivation = .none) {
        self.a = a; self.b = b; self.y = y; self.element = element
        self.m = m; self.k = k; self.n = n; self.aOffsets = aOffsets; self.bOffsets = bOffsets
        self.packed = packed; self.scratch = scratch
        self.epilogueBias = epilogueBias; self.epilogueActivation = epilogueActivation
    }

    @inline(__always)
    func naive<T: LinalgScalar>(_: T.Type) {
        let pa = UnsafePointer(a.data.assumingMemoryBound(to: T.self))
        let pb = UnsafePointer(b.data.assumingMemoryBound(to: T.self))
        let py = y.data.assumingMemoryBound(to: T.self)
        let (m, k, n) = (self.m, self.k, self.n)
        aOffsets.withUnsafeBufferPointer { ao in
            bOffsets.withUnsafeBufferPointer { bo in
                for p in 0..<ao.count {
                    linalgNaiveProduct(pa + ao[p], aRow: k, aCol: 1, pb + bo[p], bRow: n, bCol: 1,
                                       py + p * m * n, ldc: n, m: m, n: n, k: k)
                }
            }
        }
    }

    override func run() {
        switch element {
        case .float:
            let pa = UnsafePointer(a.floats), pb = UnsafePointer(b.floats), py = y.floats
            let (m, k, n) = (self.m, self.k, self.n)
            if let packed {
                // A rows are the columns of the packed product: x(k, t) = A[t * K + k].
                packed.multiply(x: pa, xsK: 1, xsT: k, columns: m, y: py, ysN: 1, ysT: n, scratch: scratch)
                return
            }
            aOffsets.withUnsafeBufferPointer { ao in
                bOffsets.withUnsafeBufferPointer { bo in
                    for p in 0..<ao.count {
                        linalgSgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1,
                                    a: pa + ao[p], lda: k, b: pb + bo[p], ldb: n, beta: 0,
                                    c: py + p * m * n, ldc: n)
                    }
                }
            }
            if epilogueBias != nil || epilogueActivation != .none {
                linalgApplyEpilogue(py, rows: aOffsets.count * m, columns: n, bias: epilogueBias.map { UnsafePointer($0.floats) },
                                    activation: epilogueActivation)
            }
        case .double: naive(Double.self)
        case .int32: naive(Int32.self)
        case .int64: naive(Int64.self)
        case .uint32: naive(UInt32.self)
        case .uint64: naive(UInt64.self)
        }
    }
}

func makeMatMul(_ ctx: inout NodeContext) throws(RuntimeError) -> Kernel? {
    let a = try ctx.input(0), b = try ctx.input(1)
    guard a.dataType == b.dataType else { throw ctx.error("input types differ: \(a.dataType) and \(b.dataType)") }
    if linalgIsHalf(a.dataType) { return try linalgHalfAdapter(&ctx, makeMatMul) }
    guard let element = LinalgElement(a.dataType) else {
        throw ctx.unsupported("element type \(a.dataType) is not supported")
    }
    guard !a.shape.isEmpty, !b.shape.isEmpty else { throw ctx.error("MatMul operands must have rank >= 1, got \(a.shape) and \(b.shape)") }
    // Promote 1-D operands.
    let aShape = a.shape.count == 1 ? [1] + a.shape : a.shape
    let bShape = b.shape.count == 1 ? b.shape + [1] : b.shape
    let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1]
    let kb = bShape[bShape.count - 2], n = bShape[bShape.count - 1]
    guard k == kb else { throw ctx.error("inner dimensions differ: \(a.shape) x \(b.shape)") }
    let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
    guard let batch = BroadcastPlan.resultShape([aBatch, bBatch]) else {
        throw ctx.error("batch dimensions of \(a.shape) and \(b.shape) cannot be broadcast")
    }
    var outShape = batch
    if a.shape.count > 1 { outShape.append(m) }
    if b.shape.count > 1 { outShape.append(n) }
    let y = try ctx.output(0, a.dataType, outShape)
    if element == .float {
        _ = linalgBLASConfigured
        guard max(m, n, k) < linalgBLASLimit else { throw ctx.unsupported("dimensions exceed BLAS limits") }
    }

    let batchCount = batch.reduce(1, *)
    let bBatchCount = bBatch.reduce(1, *)
    if bBatchCount == 1 {
        // B is one matrix: A's batches (which equal the output's) fold into the rows.
        let rows = batchCount * m
        if element == .float && rows >= linalgBLASLimit { throw ctx.unsupported("dimensions exceed BLAS limits") }
        let epilogue = ctx.epilogue
        if element == .float, b.isConstant, rows > 0, k > 0, n > 0,
           linalgUsePacked(columns: rows, storage: ctx.weightStorage) {
            let memory = ctx.memory
            let packed = PackedMatrix(rowMajorKN: UnsafePointer(b.floats), rows: n, depth: k, ld: n, storage: ctx.weightStorage,
                                      bias: epilogue?.bias.map { UnsafePointer($0.floats) }, activation: epilogue?.activation ?? .none,
                                      allocate: { memory.allocate(bytes: $0) })
            let count = PackedMatrix.scratchCount(depth: k, columns: rows)
            let scratch = count == 0 ? nil : ctx.workspace(bytes: count * 4).bindMemory(to: Float.self, capacity: count)
            return MatMulKernel(a: a, b: b, y: y, element: element, m: rows, k: k, n: n, aOffsets: [0], bOffsets: [0],
                                packed: packed, scratch: scratch)
        }
        return MatMulKernel(a: a, b: b, y: y, element: element, m: rows, k: k, n: n,
                            aOffsets: rows == 0 ? [] : [0], bOffsets: rows == 0 ? [] : [0],
                            epilogueBias: epilogue?.bias, epilogueActivation: epilogue?.activation ?? .none)
    }
    guard ctx.epilogue == nil else { throw ctx.error("internal: fused epilogue on a batched MatMul") }
    // One product per output batch, with broadcast offsets.
    func strides(_ shape: [Int], matrix: Int) -> [Int] {
        let padded = [Int](repeating: 1, count: batch.count - shape.count) + shape
        var st = [Int](repeating: 0, count: batch.count)
        var acc = matrix
        for i in stride(from: batch.count - 1, through: 0, by: -1) {
            st[i] = padded[i] == 1 ? 0 : acc
            acc *= padded[i]
        }
        return st
    }
    let sa = strides(aBatch, matrix: m * k), sb = strides(bBatch, matrix: k * n)
    var aOffsets: [Int] = [], bOffsets: [Int] = []
    aOffsets.reserveCapacity(batchCount); bOffsets.reserveCapacity(batchCount)
    var index = [Int](repeating: 0, count: batch.count)
    for _ in 0..<batchCount {
        var oa = 0, ob = 0
        for i in 0..<batch.count { oa += index[i] * sa[i]; ob += index[i] * sb[i] }
        aOffsets.append(oa); bOffsets.append(ob)
        var i = batch.count - 1
        while i >= 0 {
            index[i] += 1
            if index[i] < batch[i] { break }
            index[i] = 0
            i -= 1
        }
    }
    return MatMulKernel(a: a, b: b, y: y, element: element, m: m, k: k, n: n, aOffsets: aOffsets, bOffsets: bOffsets)
}

extension Operators {
    static let matMul = OperatorDefinition("MatMul", since: 1, makeMatMul)
}
