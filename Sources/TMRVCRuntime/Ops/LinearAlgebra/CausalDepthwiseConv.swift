// Streaming causal depthwise convolution, fused by the compiler from the exported pattern
//   cat = Concat(state_in, x, axis=2);  y = Conv(cat, W[C,1,K], B, group=C, dilation d);
//   state_out = Slice(cat, last S columns)
// (FusionPlanner.causalDepthwise). The window [state | x] is never materialised: taps read the
// state or the new frames directly, and the new state is written in the same pass.

final class CausalDepthwiseKernel: Kernel, @unchecked Sendable {
    let state: TensorBuffer, x: TensorBuffer, w: TensorBuffer, bias: TensorBuffer?
    let y: TensorBuffer, stateOut: TensorBuffer
    let batch: Int, channels: Int, stateLength: Int, inLength: Int, outLength: Int
    let taps: Int, dilation: Int

    init(state: TensorBuffer, x: TensorBuffer, w: TensorBuffer, bias: TensorBuffer?, y: TensorBuffer, stateOut: TensorBuffer,
         taps: Int, dilation: Int, outLength: Int) {
        self.state = state; self.x = x; self.w = w; self.bias = bias; self.y = y; self.stateOut = stateOut
        batch = state.shape[0]; channels = state.shape[1]; stateLength = state.shape[2]; inLength = x.shape[2]
        self.taps = taps; self.dilation = dilation; self.outLength = outLength
    }

    /// One new frame whose window ends exactly at it (S = (K-1) d): the usual streaming call.
    var isSingleFrame: Bool { inLength == 1 && outLength == 1 && stateLength == (taps - 1) * dilation }

    override func run() {
        let ps = UnsafePointer(state.floats), px = UnsafePointer(x.floats), pw = UnsafePointer(w.floats)
        let pb = bias.map { UnsafePointer($0.floats) }
        let py = y.floats, po = stateOut.floats
        let (S, T, To, K, d) = (stateLength, inLength, outLength, taps, dilation)
        if isSingleFrame {
            // Taps 0 ..< K-1 read the state at k*d, the last one the new frame.
            let rows = batch * channels
            let C = channels
            for n in 0..<batch {
                let sn = ps + n * C * S, xn = px + n * C, yn = py + n * C
                if let pb {
                    for c in 0..<C { yn[c] = pb[c] + pw[c * K + K - 1] * xn[c] }
                } else {
                    for c in 0..<C { yn[c] = pw[c * K + K - 1] * xn[c] }
                }
                for k in 0..<(K - 1) {
                    // One tap for every channel: strided reads, contiguous accumulation.
                    let wk = pw + k, sk = sn + k * d
                    for c in 0..<C { yn[c] += wk[c * K] * sk[c * S] }
                }
            }
            // New state = the state shifted left by one, each row's last entry the new frame:
            // one bulk move of the whole buffer, then one store per row.
            if S > 1 { po.update(from: ps + 1, count: rows * S - 1) }
            for row in 0..<rows { po[row * S + S - 1] = px[row] }
            return
        }
        for n in 0..<batch {
            for c in 0..<channels {
                let row = n * channels + c
                let sc = ps + row * S, xc = px + row * T, wc = pw + c * K
                let yc = py + row * To, oc = po + row * S
                let b = pb?[c] ?? 0
                // Output t reads window positions t + k*d; positions < S are state, the rest x.
                for t in 0..<To {
                    var acc = b
                    for k in 0..<K {
                        let i = t + k * d
                        acc += wc[k] * (i < S ? sc[i] : xc[i - S])
                    }
                    yc[t] = acc
                }
                // New state: window positions T ..< T + S.
                for j in 0..<S {
                    let i = T + j
                    oc[j] = i < S ? sc[i] : xc[i - S]
                }
            }
        }
    }
}

/// Builds the fused step for `ctx.causalDepthwise` (inputs: state, x, W, B?; outputs: y, state_out).
func makeCausalDepthwiseStep(_ ctx: inout NodeContext) throws(RuntimeError) -> Kernel? {
    guard let plan = ctx.causalDepthwise else { throw ctx.error("internal: no causal depthwise plan") }
    let state = try ctx.input(0), x = try ctx.input(1), w = try ctx.input(2)
    let bias = ctx.optionalInput(3)
    let n = state.shape[0], c = state.shape[1]
    let y = try ctx.output(0, .float, [n, c, plan.outLength])
    let stateOut = try ctx.output(1, .float, state.shape)
    return CausalDepthwiseKernel(state: state, x: x, w: w, bias: bias, y: y, stateOut: stateOut,
                                 taps: plan.taps, dilation: plan.dilation, outLength: plan.outLength)
}
