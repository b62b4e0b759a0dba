import ONNXFormat
import TMRVCKernels

// ONNX DynamicQuantizeLinear (opset 11): x float32 -> y uint8, y_scale (float32 scalar),
// y_zero_point (uint8 scalar), from the range of x widened to include 0:
//   scale = (max - min) / 255 (1 when max == min, as ONNX Runtime), zero point =
//   round(clamp(-min / scale, 0, 255)), y = clamp(round(x / scale) + zero point, 0, 255),
// rounding half to even (`KernelSet.dynamicQuantizeUInt8`). Non-finite values do not widen the
// range; NaN quantises to the zero point and ±inf saturates (the spec leaves both undefined; this
// keeps a finite scale).

final class DynamicQuantizeLinearKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, y: TensorBuffer, scale: TensorBuffer, zeroPoint: TensorBuffer
    let kernels = KernelSet.active

    init(x: TensorBuffer, y: TensorBuffer, scale: TensorBuffer, zeroPoint: TensorBuffer) {
        self.x = x; self.y = y; self.scale = scale; self.zeroPoint = zeroPoint
    }

    override func run() {
        kernels.dynamicQuantizeUInt8(UnsafePointer(x.floats), x.count, y.bytes, scale.floats, zeroPoint.bytes)
    }
}

extension Operators {
    static let dynamicQuantizeLinear = OperatorDefinition("DynamicQuantizeLinear", since: 11) {
        (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard x.dataType == .float else { throw ctx.unsupported("input type \(x.dataType) is not supported (float32 is)") }
        let y = try ctx.output(0, .uint8, x.shape)
        let scale = try ctx.output(1, .float, [])
        let zeroPoint = try ctx.output(2, .uint8, [])
        return DynamicQuantizeLinearKernel(x: x, y: y, scale: scale, zeroPoint: zeroPoint)
    }
}
