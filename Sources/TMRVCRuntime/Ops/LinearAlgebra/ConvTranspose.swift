import ONNXFormat

// ONNX ConvTranspose (any spatial rank; float32, float16/bfloat16 via float32). Per batch item
// and group: one GEMM `col = W_g^T * X_g` (taps x input positions per output channel) into a
// workspace, then col2im scatter-adds the columns onto Y, which starts as the bias (or zero).

final class ConvTransposeKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, w: TensorBuffer, bias: TensorBuffer?, y: TensorBuffer
    let batch: Int, channels: Int, outChannels: Int, group: Int
    let cg: Int, mg: Int, taps: Int
    let inSize: Int, outSize: Int
    let map: ConvWindowMap
    let col: UnsafeMutablePointer<Float>

    init(x: TensorBuffer, w: TensorBuffer, bias: TensorBuffer?, y: TensorBuffer, group: Int,
         map: ConvWindowMap, col: UnsafeMutablePointer<Float>) {
        self.x = x; self.w = w; self.bias = bias; self.y = y; self.group = group
        batch = x.shape[0]; channels = x.shape[1]; outChannels = y.shape[1]
        cg = channels / group; mg = outChannels / group; taps = map.taps
        inSize = map.positions; outSize = map.targets
        self.map = map; self.col = col
    }

    override func run() {
        let px = UnsafePointer(x.floats), pw = UnsafePointer(w.floats), py = y.floats
        let pb = bias.map { UnsafePointer($0.floats) }
        let (inSize, outSize, cg, mg, taps) = (self.inSize, self.outSize, self.cg, self.mg, self.taps)
        let rows = mg * taps
        for n in 0..<batch {
            let xn = px + n * channels * inSize, yn = py + n * outChannels * outSize
            linalgFillChannels(yn, channels: outChannels, size: outSize, bias: pb)
            for g in 0..<group {
                // W_g is stored cg x (mg * taps); col = W_g^T (rows x cg) * X_g (cg x inSize).
                linalgSgemm(transA: true, transB: false, m: rows, n: inSize, k: cg, alpha: 1,
                            a: pw + g * cg * rows, lda: rows, b: xn + g * cg * inSize, ldb: inSize,
                            beta: 0, c: col, ldc: inSize)
                let yg = yn + g * mg * outSize
                for m in 0..<mg {
                    map.scatterAdd(UnsafePointer(col + m * taps * inSize), into: yg + m * outSize)
                }
            }
        }
    }
}

func makeConvTranspose(_ ctx: inout NodeContext) throws(RuntimeError) -> Kernel? {
    let x = try ctx.input(0), w = try ctx.input(1)
    let b = ctx.optionalInput(2)
    guard x.dataType == w.dataType, b == nil || b!.dataType == x.dataType else {
        throw ctx.error("input types differ: X \(x.dataType), W \(w.dataType)\(b.map { ", B \($0.dataType)" } ?? "")")
    }
    if linalgIsHalf(x.dataType) { return try linalgHalfAdapter(&ctx, makeConvTranspose) }
    guard x.dataType == .float else { throw ctx.unsupported("element type \(x.dataType) is not supported (float32, float16, bfloat16 are)") }
    let attrs = try ConvAttributes(ctx, x: x, w: w)
    let r = attrs.spatialRank, group = attrs.group
    let n = x.shape[0], c = x.shape[1]
    guard w.shape[0] == c else { throw ctx.error("W \(w.shape) must have \(c) input channels (X \(x.shape))") }
    guard c % group == 0 else { throw ctx.error("channels \(c) must be a multiple of group \(group)") }
    let m = w.shape[1] * group
    if let b { guard b.shape == [m] else { throw ctx.error("B must have shape [\(m)], got \(b.shape)") } }
    let outputPadding = ctx.ints("output_padding") ?? [Int](repeating: 0, count: r)
    guard outputPadding.count == r else { throw ctx.error("output_padding \(outputPadding) must have \(r) values") }
    for i in 0..<r where outputPadding[i] < 0 || outputPadding[i] >= max(attrs.strides[i], attrs.dilations[i]) {
        throw ctx.error("output_padding \(outputPadding) must be below the stride or dilation")
    }
    let requested = ctx.ints("output_shape")
    var requestedShape: [Int]? = nil
    if let requested {
        // Either the spatial shape or the full shape [N, M, spatial...].
        if requested.count == r { requestedShape = requested }
        else if requested.count == r + 2 { requestedShape = Array(requested.dropFirst(2)) }
        else { throw ctx.error("output_shape \(requested) must have \(r) spatial values") }
        guard requestedShape!.allSatisfy({ $0 >= 0 }) else { throw ctx.error("invalid output_shape \(requested)") }
    }

    // Padding and output shape (ONNX: total_padding = stride * (in - 1) + output_padding +
    // extent - out, split by auto_pad; explicit pads when given).
    let inShape = Array(x.shape.dropFirst(2))
    var padBegin = [Int](repeating: 0, count: r)
    var outShape = [Int](repeating: 0, count: r)
    for i in 0..<r {
        let natural = attrs.strides[i] * (inShape[i] - 1) + outputPadding[i] + attrs.extent(i)
        let same = attrs.autoPad == "SAME_UPPER" || attrs.autoPad == "SAME_LOWER"
        if let pads = attrs.pads, !same, attrs.autoPad != "VALID" {
            guard pads[i] >= 0, pads[i + r] >= 0 else { throw ctx.unsupported("negative pads \(pads)") }
            padBegin[i] = pads[i]
            outShape[i] = requestedShape?[i] ?? natural - pads[i] - pads[i + r]
        } else if requestedShape != nil || same {
            let out = requestedShape?[i] ?? inShape[i] * attrs.strides[i]
            let total = natural - out
            let half = linalgFloorDiv(total, 2)
            padBegin[i] = attrs.autoPad == "SAME_UPPER" ? half : total - half
            outShape[i] = out
        } else {
            outShape[i] = natural
        }
        guard outShape[i] >= 0 else { throw ctx.error("output spatial dim \(i) would be \(outShape[i])") }
    }
    let y = try ctx.output(0, .float, [n, m] + outShape)
    _ = linalgBLASConfigured

    let map = ConvWindowMap(positions: inShape, targets: outShape, kernel: attrs.kernel,
                            strides: attrs.strides, dilations: attrs.dilations, padBegin: padBegin)
    let mg = m / group, cg = c / group
    guard max(mg * map.taps, cg, map.positions) < linalgBLASLimit else { throw ctx.unsupported("dimensions exceed BLAS limits") }
    let colCount = mg * map.taps * map.positions
    let col = ctx.workspace(bytes: colCount * 4).bindMemory(to: Float.self, capacity: max(colCount, 1))
    return ConvTransposeKernel(x: x, w: w, bias: b, y: y, group: group, map: map, col: col)
}

extension Operators {
    static let convTranspose = OperatorDefinition("ConvTranspose", since: 1, makeConvTranspose)
}
