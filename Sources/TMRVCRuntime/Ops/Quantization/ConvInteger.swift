import ONNXFormat

// ONNX ConvInteger (opset 10): Y (int32) = Conv(X - x_zero_point, W - w_zero_point) without bias,
// with Conv's attributes (auto_pad, dilations, group, kernel_shape, pads, strides). X and W are
// uint8 or int8; x_zero_point is a scalar, w_zero_point a scalar or one value per output channel.
// Padding contributes zero (the zero point, after the subtraction), as in ONNX Runtime. Each
// batch item and group: X - x_zero_point as int16, im2col (`ConvWindowMap`) and one
// `IntegerProduct` (packed int8 kernels for constant symmetric int8 weights with group 1, as in
// ONNX Runtime's `quantize_dynamic` files; a plain loop otherwise).

final class ConvIntegerKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, y: TensorBuffer
    let element: QuantizedElement, zeroPoint: ZeroPoint
    let product: IntegerProduct
    let map: ConvWindowMap
    let batch: Int, channels: Int, group: Int, cg: Int, mg: Int
    /// X - x_zero_point of one batch item, channels x input size.
    let offsets: UnsafeMutablePointer<Int16>
    /// im2col of one group, (cg * taps) x output size (padding entries stay zero).
    let col: UnsafeMutablePointer<Int16>

    init(x: TensorBuffer, y: TensorBuffer, element: QuantizedElement, zeroPoint: ZeroPoint, product: IntegerProduct,
         map: ConvWindowMap, group: Int, outChannels: Int, offsets: UnsafeMutablePointer<Int16>, col: UnsafeMutablePointer<Int16>) {
        self.x = x; self.y = y; self.element = element; self.zeroPoint = zeroPoint; self.product = product
        self.map = map; self.group = group
        batch = x.shape[0]; channels = x.shape[1]; cg = channels / group; mg = outChannels / group
        self.offsets = offsets; self.col = col
    }

    override func run() {
        product.prepare()
        let (inSize, outSize, taps) = (map.targets, map.positions, map.taps)
        for b in 0..<batch {
            // x_zero_point is a scalar: the same value for every element.
            quantizedOffsets(x, element, zeroPoint, start: b * channels * inSize, count: channels * inSize,
                             rowLength: channels * inSize, into: offsets)
            for g in 0..<group {
                for c in 0..<cg { map.gather(UnsafePointer(offsets + (g * cg + c) * inSize), into: col + c * taps * outSize) }
                product.multiply(x: col, xsK: outSize, xsT: 1, columns: outSize, rows: g * mg ..< (g + 1) * mg,
                                 y: y.int32s + (b * group + g) * mg * outSize, ysN: outSize, ysT: 1)
            }
        }
    }

    override var workEstimate: Int? { batch * group * mg * map.positions * cg * map.taps }
}

func makeConvInteger(_ ctx: inout NodeContext) throws(RuntimeError) -> Kernel? {
    let x = try ctx.input(0), w = try ctx.input(1)
    guard let xElement = QuantizedElement(x.dataType) else {
        throw ctx.unsupported("X has type \(x.dataType) (uint8 or int8 are supported)")
    }
    let attrs = try ConvAttributes(ctx, x: x, w: w)
    let group = attrs.group
    let n = x.shape[0], c = x.shape[1], m = w.shape[0]
    try attrs.checkChannels(ctx, x: x, w: w)
    let inShape = Array(x.shape.dropFirst(2))
    let (padBegin, _, outShape) = try attrs.geometry(ctx, input: inShape)
    let y = try ctx.output(0, .int32, [n, m] + outShape)
    let map = ConvWindowMap(positions: outShape, targets: inShape, kernel: attrs.kernel,
                            strides: attrs.strides, dilations: attrs.dilations, padBegin: padBegin)
    let xZero = try ZeroPoint(ctx, input: 2, operand: xElement, rows: 1, what: "X")
    guard let wElement = QuantizedElement(w.dataType) else {
        throw ctx.unsupported("W has type \(w.dataType) (uint8 or int8 are supported)")
    }
    let wZero = try ZeroPoint(ctx, input: 3, operand: wElement, rows: m, what: "W")
    let depth = c / group * map.taps
    // W is m x depth row-major; the packed kernels take all rows at once, so groups use the loop.
    let product = try IntegerProduct(ctx, weights: w, zeroPoint: wZero, rows: m, depth: depth, nStride: depth, kStride: 1,
                                     packable: group == 1)
    let offsetCount = try ctx.elementCount([c, map.targets]), colCount = try ctx.elementCount([depth, map.positions])
    let offsets = ctx.workspace(bytes: max(2, offsetCount * 2)).bindMemory(to: Int16.self, capacity: max(1, offsetCount))
    // One element more: a single-position column of odd depth then ends in a zero pair half (IntegerProduct.multiply).
    let col = ctx.workspace(bytes: (colCount + 1) * 2).bindMemory(to: Int16.self, capacity: colCount + 1)
    return ConvIntegerKernel(x: x, y: y, element: xElement, zeroPoint: xZero, product: product, map: map, group: group,
                             outChannels: m, offsets: offsets, col: col)
}

extension Operators {
    static let convInteger = OperatorDefinition("ConvInteger", since: 10, makeConvInteger)
}
