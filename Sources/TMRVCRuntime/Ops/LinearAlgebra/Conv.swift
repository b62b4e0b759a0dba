import ONNXFormat

// ONNX Conv (1-D, 2-D, 3-D, ...; float32, float16/bfloat16 via float32). Four strategies,
// chosen at load:
// - depthwise (one input channel per group): a direct loop over kernel taps, no im2col;
// - pointwise (all kernel dims 1, unit strides, no padding): the input already is the column
//   matrix, one GEMM per batch item and group (GEMV when the spatial size is 1);
// - whole window (one output position whose window is exactly the unpadded input, e.g. a
//   streaming causal conv fed [past frames, new frame]): the input is the column, one GEMV;
// - general: im2col of one group into a dedicated workspace (padding entries are never
//   written, so they stay zero) and one GEMM (GEMV for a single output position).
// Bias is written first and the BLAS call accumulates onto it.
//
// Incremental runs (`InferenceSession.runPart`): an im2col conv of batch 1 and group 1 splits
// into pieces of four output positions; the first piece gathers the column matrix (and writes
// the bias), each piece multiplies its columns and applies the fused activation to them.

final class ConvKernel: Kernel, @unchecked Sendable {
    enum Strategy { case depthwise, pointwise, wholeWindow, im2col }

    let x: TensorBuffer, w: TensorBuffer, bias: TensorBuffer?, y: TensorBuffer
    let strategy: Strategy
    let batch: Int, channels: Int, outChannels: Int, group: Int
    /// Input and output channels per group; kernel taps.
    let cg: Int, mg: Int, taps: Int
    /// Spatial sizes of input and output.
    let inSize: Int, outSize: Int
    let map: ConvWindowMap
    let col: UnsafeMutablePointer<Float>?
    /// Constant weights (and bias, activation) repacked for batch-1 products (group 1; chosen at
    /// load for few output positions or fp16 storage).
    let packed: PackedMatrix?
    let scratch: UnsafeMutablePointer<Float>?
    /// Fused activation (Conv + Gelu), applied after the product when not packed.
    let activation: FusedActivation

    init(x: TensorBuffer, w: TensorBuffer, bias: TensorBuffer?, y: TensorBuffer, strategy: Strategy,
         group: Int, map: ConvWindowMap, col: UnsafeMutablePointer<Float>?,
         packed: PackedMatrix? = nil, scratch: UnsafeMutablePointer<Float>? = nil, activation: FusedActivation = .none) {
        self.x = x; self.w = w; self.bias = bias; self.y = y; self.strategy = strategy
        batch = x.shape[0]; channels = x.shape[1]; outChannels = w.shape[0]; self.group = group
        cg = channels / group; mg = outChannels / group; taps = map.taps
        inSize = map.targets; outSize = map.positions
        self.map = map; self.col = col
        self.packed = packed; self.scratch = scratch; self.activation = activation
    }

    /// Output positions per piece of an incremental run.
    static let piecePositions = 4
    /// im2col convs of batch 1 with at most this many output positions (analysis windows such
    /// as the IR estimator's 50 frames) use the packed kernel even for float32 weights: it works
    /// in blocks of four positions, so a split run costs no more than a whole one (OpenBLAS
    /// sgemm on four columns at a time was measured 40 % slower in total), and for a whole run
    /// it was measured on par with sgemm (docs/performance.md).
    static let packedWindowLimit = 64

    override var pieceCount: Int {
        strategy == .im2col && batch == 1 && group == 1 ? (outSize + Self.piecePositions - 1) / Self.piecePositions : 1
    }

    override var workEstimate: Int? {
        // Multiply-adds, plus the activation (GELU costs about as much as 100 multiply-adds in
        // the vectorised kernels, see docs/performance.md).
        let outputs = batch * outChannels * outSize
        return outputs * cg * taps + (activation == .none ? outputs : 100 * outputs)
    }

    override func run(pieces: Range<Int>) {
        guard pieceCount > 1 else { super.run(pieces: pieces); return }
        guard !pieces.isEmpty else { return }
        let t0 = pieces.lowerBound * Self.piecePositions, t1 = min(outSize, pieces.upperBound * Self.piecePositions)
        runColumns(t0..<t1, gather: pieces.lowerBound == 0)
    }

    /// Batch 1, group 1, im2col: output positions `positions` of the product. `gather` (the
    /// first piece of a run, or a whole run) fills the im2col workspace and, on the sgemm path,
    /// the bias of every position first; later pieces reuse them.
    private func runColumns(_ positions: Range<Int>, gather: Bool) {
        let col = self.col!
        let px = UnsafePointer(x.floats), py = y.floats
        let (inSize, outSize, taps, depth) = (self.inSize, self.outSize, self.taps, cg * taps)
        if gather {
            for c in 0..<channels { map.gather(px + c * inSize, into: col + c * taps * outSize) }
            if packed == nil, let b = bias { linalgFillChannels(py, channels: outChannels, size: outSize, bias: UnsafePointer(b.floats)) }
        }
        let (t0, t1) = (positions.lowerBound, positions.upperBound)
        guard t1 > t0 else { return }
        if let packed {
            packed.multiply(x: col + t0, xsK: outSize, xsT: 1, columns: t1 - t0, y: py + t0, ysN: outSize, ysT: 1, scratch: scratch)
            return
        }
        linalgSgemm(transA: false, transB: false, m: outChannels, n: t1 - t0, k: depth, alpha: 1,
                    a: UnsafePointer(w.floats), lda: depth, b: UnsafePointer(col + t0), ldb: outSize,
                    beta: bias == nil ? 0 : 1, c: py + t0, ldc: outSize)
        if activation != .none {
            for m in 0..<outChannels { activation.apply(py + m * outSize + t0, count: t1 - t0) }
        }
    }

    override func run() {
        // Batch 1, group 1 im2col: the same calls as a run in pieces, on all positions at once.
        if strategy == .im2col && batch == 1 && group == 1 { runColumns(0..<outSize, gather: true); return }
        if let packed { runPacked(packed); return }
        let px = UnsafePointer(x.floats), pw = UnsafePointer(w.floats), py = y.floats
        let pb = bias.map { UnsafePointer($0.floats) }
        let (inSize, outSize, cg, mg, taps) = (self.inSize, self.outSize, self.cg, self.mg, self.taps)
        defer { activation.apply(py, count: batch * outChannels * outSize) }
        for n in 0..<batch {
            let xn = px + n * channels * inSize, yn = py + n * outChannels * outSize
            switch strategy {
            case .depthwise:
                // cg == 1: output channel m reads input channel m / mg.
                map.depthwise(xn, weights: pw, bias: pb, into: yn, channels: outChannels, multiplier: mg)
            case .pointwise:
                if pb != nil { linalgFillChannels(yn, channels: outChannels, size: outSize, bias: pb) }
                for g in 0..<group {
                    linalgSgemm(transA: false, transB: false, m: mg, n: outSize, k: cg, alpha: 1,
                                a: pw + g * mg * cg, lda: cg, b: xn + g * cg * inSize, ldb: inSize,
                                beta: pb == nil ? 0 : 1, c: yn + g * mg * outSize, ldc: outSize)
                }
            case .wholeWindow:
                // inSize == taps: each group's input block is its column vector.
                if pb != nil { linalgFillChannels(yn, channels: outChannels, size: 1, bias: pb) }
                for g in 0..<group {
                    linalgSgemm(transA: false, transB: false, m: mg, n: 1, k: cg * taps, alpha: 1,
                                a: pw + g * mg * cg * taps, lda: cg * taps, b: xn + g * cg * inSize, ldb: 1,
                                beta: pb == nil ? 0 : 1, c: yn + g * mg, ldc: 1)
                }
            case .im2col:
                let col = self.col!
                if pb != nil { linalgFillChannels(yn, channels: outChannels, size: outSize, bias: pb) }
                for g in 0..<group {
                    let xg = xn + g * cg * inSize
                    for c in 0..<cg { map.gather(xg + c * inSize, into: col + c * taps * outSize) }
                    linalgSgemm(transA: false, transB: false, m: mg, n: outSize, k: cg * taps, alpha: 1,
                                a: pw + g * mg * cg * taps, lda: cg * taps, b: UnsafePointer(col), ldb: outSize,
                                beta: pb == nil ? 0 : 1, c: yn + g * mg * outSize, ldc: outSize)
                }
            }
        }
    }

    /// Group 1 through the packed kernel: the product's columns are the output positions.
    @inline(__always)
    func runPacked(_ packed: PackedMatrix) {
        let px = UnsafePointer(x.floats), py = y.floats
        let (inSize, outSize, taps) = (self.inSize, self.outSize, self.taps)
        for n in 0..<batch {
            let xn = px + n * channels * inSize, yn = py + n * outChannels * outSize
            switch strategy {
            case .pointwise:
                packed.multiply(x: xn, xsK: inSize, xsT: 1, columns: outSize, y: yn, ysN: outSize, ysT: 1, scratch: scratch)
            case .wholeWindow:
                packed.multiply(x: xn, xsK: 1, xsT: 1, columns: 1, y: yn, ysN: 1, ysT: 1, scratch: scratch)
            case .im2col:
                let col = self.col!
                for c in 0..<channels { map.gather(xn + c * inSize, into: col + c * taps * outSize) }
                packed.multiply(x: col, xsK: outSize, xsT: 1, columns: outSize, y: yn, ysN: outSize, ysT: 1, scratch: scratch)
            case .depthwise:
                break
            }
        }
    }
}

func makeConv(_ ctx: inout NodeContext) throws(RuntimeError) -> Kernel? {
    let x = try ctx.input(0), w = try ctx.input(1)
    let b = ctx.optionalInput(2)
    guard x.dataType == w.dataType, b == nil || b!.dataType == x.dataType else {
        throw ctx.error("input types differ: X \(x.dataType), W \(w.dataType)\(b.map { ", B \($0.dataType)" } ?? "")")
    }
    if linalgIsHalf(x.dataType) { return try linalgHalfAdapter(&ctx, makeConv) }
    guard x.dataType == .float else { throw ctx.unsupported("element type \(x.dataType) is not supported (float32, float16, bfloat16 are)") }
    let attrs = try ConvAttributes(ctx, x: x, w: w)
    let group = attrs.group
    let n = x.shape[0], c = x.shape[1], m = w.shape[0]
    try attrs.checkChannels(ctx, x: x, w: w)
    if let b { guard b.shape == [m] else { throw ctx.error("B must have shape [\(m)], got \(b.shape)") } }

    let inShape = Array(x.shape.dropFirst(2))
    let (padBegin, padEnd, outShape) = try attrs.geometry(ctx, input: inShape)
    let y = try ctx.output(0, .float, [n, m] + outShape)
    _ = linalgBLASConfigured

    let map = ConvWindowMap(positions: outShape, targets: inShape, kernel: attrs.kernel,
                            strides: attrs.strides, dilations: attrs.dilations, padBegin: padBegin)
    let cg = c / group, mg = m / group
    let outSize = map.positions
    guard max(mg, cg * map.taps, outSize, map.targets) < linalgBLASLimit else {
        throw ctx.unsupported("dimensions exceed BLAS limits")
    }
    let strategy: ConvKernel.Strategy
    if cg == 1 && group > 1 {
        strategy = .depthwise
    } else if map.taps == 1 && attrs.strides.allSatisfy({ $0 == 1 }) && padBegin.allSatisfy({ $0 == 0 }) && padEnd.allSatisfy({ $0 == 0 }) {
        strategy = .pointwise
    } else if outSize == 1 && inShape == attrs.kernel && attrs.dilations.allSatisfy({ $0 == 1 })
                && padBegin.allSatisfy({ $0 == 0 }) && padEnd.allSatisfy({ $0 == 0 }) {
        strategy = .wholeWindow
    } else {
        strategy = .im2col
    }
    let col = strategy == .im2col
        ? ctx.workspace(bytes: cg * map.taps * outSize * 4).bindMemory(to: Float.self, capacity: cg * map.taps * outSize)
        : nil
    if ctx.epilogue?.bias != nil { throw ctx.error("internal: fused bias on Conv") }
    let activation = ctx.epilogue?.activation ?? .none
    if strategy != .depthwise, group == 1, w.isConstant, b == nil || b!.isConstant, m > 0, cg * map.taps > 0, outSize > 0,
       linalgUsePacked(columns: outSize, storage: ctx.weightStorage)
        || (strategy == .im2col && n == 1 && outSize <= ConvKernel.packedWindowLimit) {
        let memory = ctx.memory
        let depth = cg * map.taps
        let packed = PackedMatrix(rowMajorNK: UnsafePointer(w.floats), rows: m, depth: depth, ld: depth,
                                  storage: ctx.weightStorage, bias: b.map { UnsafePointer($0.floats) },
                                  activation: activation, allocate: { memory.allocate(bytes: $0) })
        let count = PackedMatrix.scratchCount(depth: depth, columns: outSize)
        let scratch = count == 0 ? nil : ctx.workspace(bytes: count * 4).bindMemory(to: Float.self, capacity: count)
        return ConvKernel(x: x, w: w, bias: b, y: y, strategy: strategy, group: group, map: map, col: col,
                          packed: packed, scratch: scratch)
    }
    return ConvKernel(x: x, w: w, bias: b, y: y, strategy: strategy, group: group, map: map, col: col, activation: activation)
}

extension Operators {
    static let conv = OperatorDefinition("Conv", since: 1, makeConv)
}
