import ONNXFormat

// ONNX GRU (opset 7+; layout from 14): forward, reverse or bidirectional; optional B,
// initial_h, linear_before_reset; sequence_lens only when every sequence is full length.
// Gate order in W, R, B: z, r, h.
// Per direction, the input projection of all time steps is one sgemm; each step then does
// sgemm/sgemv with R (two of them when linear_before_reset = 0, since the h gate multiplies
// r * h_prev) and the element-wise gate math.

final class GRUKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, w: TensorBuffer, r: TensorBuffer, b: TensorBuffer?
    let initialH: TensorBuffer?
    let y: TensorBuffer?, yH: TensorBuffer?
    let directions: Int, hidden: Int, batch: Int, sequence: Int, inputSize: Int, layout: Int
    let reverse: [Bool]
    let f: [RNNActivation], g: [RNNActivation]
    let clip: Float
    let linearBeforeReset: Bool
    // Scratch (floats): projections [seq*batch, 3H], gates [batch, 3H], h [batch, H],
    // reset h [batch, H], bias [4H] (Wb+Rb for z and r, Wbh, Rbh).
    let projections: UnsafeMutablePointer<Float>, gates: UnsafeMutablePointer<Float>
    let hState: UnsafeMutablePointer<Float>, resetH: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(config c: RNNConfig, linearBeforeReset: Bool, y: TensorBuffer?, yH: TensorBuffer?, scratch: UnsafeMutablePointer<Float>) {
        x = c.x; w = c.w; r = c.r; b = c.b; initialH = c.initialH
        self.y = y; self.yH = yH
        directions = c.directions; hidden = c.hidden; batch = c.batch; sequence = c.sequence
        inputSize = c.inputSize; layout = c.layout; reverse = c.reverse
        f = c.activations.map { $0[0] }; g = c.activations.map { $0[1] }
        clip = c.clip
        self.linearBeforeReset = linearBeforeReset
        let g3 = 3 * c.hidden
        projections = scratch
        gates = projections + c.sequence * c.batch * g3
        hState = gates + c.batch * g3
        resetH = hState + c.batch * c.hidden
        bias = resetH + c.batch * c.hidden
    }

    static func scratchCount(_ c: RNNConfig) -> Int {
        let g3 = 3 * c.hidden
        return c.sequence * c.batch * g3 + c.batch * g3 + 2 * c.batch * c.hidden + 4 * c.hidden
    }

    override func run() {
        let H = hidden, G = 3 * hidden, S = sequence, N = batch
        let px = UnsafePointer(x.floats)
        for d in 0..<directions {
            let wd = UnsafePointer(w.floats + d * G * inputSize)
            let rd = UnsafePointer(r.floats + d * G * H)
            // bias[0..<2H] = Wb + Rb (z, r); bias[2H..<3H] = Wbh; bias[3H..<4H] = Rbh.
            if let b {
                let bd = b.floats + d * 2 * G
                for j in 0..<(2 * H) { bias[j] = bd[j] + bd[G + j] }
                for k in 0..<H { bias[2 * H + k] = bd[2 * H + k]; bias[3 * H + k] = bd[G + 2 * H + k] }
            } else {
                for j in 0..<(4 * H) { bias[j] = 0 }
            }
            for n in 0..<N {
                let hs = hState + n * H
                if let ih = initialH {
                    let o = stateOffset(d, n)
                    for k in 0..<H { hs[k] = ih.floats[o + k] }
                } else {
                    for k in 0..<H { hs[k] = 0 }
                }
            }
            rnnGemmNT(m: S * N, n: G, k: inputSize, a: px, lda: inputSize, b: wd, ldb: inputSize, c: projections, ldc: G)
            let fa = f[d], ga = g[d]
            let rbh = UnsafePointer(bias + 3 * H)
            for s in 0..<S {
                let t = reverse[d] ? S - 1 - s : s
                let hPrev = UnsafePointer(hState)
                if linearBeforeReset {
                    rnnGemmNT(m: N, n: G, k: H, a: hPrev, lda: H, b: rd, ldb: H, c: gates, ldc: G)
                } else {
                    rnnGemmNT(m: N, n: 2 * H, k: H, a: hPrev, lda: H, b: rd, ldb: H, c: gates, ldc: G)
                }
                for n in 0..<N {
                    let row = layout == 0 ? t * N + n : n * S + t
                    let gt = gates + n * G, xw = projections + row * G
                    let gz = gt, gr = gt + H, gh = gt + 2 * H
                    for j in 0..<(2 * H) { gt[j] += xw[j] + bias[j] }
                    fa.apply(gz, 2 * H, clip: clip)
                    if linearBeforeReset {
                        for k in 0..<H { gh[k] = xw[2 * H + k] + bias[2 * H + k] + gr[k] * (gh[k] + rbh[k]) }
                    } else {
                        let hs = hState + n * H, rh = resetH + n * H
                        for k in 0..<H { rh[k] = gr[k] * hs[k] }
                    }
                }
                if !linearBeforeReset {
                    // gh = (r * h_prev) * Rh^T, for every batch row at once.
                    rnnGemmNT(m: N, n: H, k: H, a: UnsafePointer(resetH), lda: H, b: rd + 2 * H * H, ldb: H,
                              c: gates + 2 * H, ldc: G)
                    for n in 0..<N {
                        let row = layout == 0 ? t * N + n : n * S + t
                        let gh = gates + n * G + 2 * H, xw = projections + row * G + 2 * H
                        for k in 0..<H { gh[k] += xw[k] + bias[2 * H + k] + rbh[k] }
                    }
                }
                for n in 0..<N {
                    let gt = gates + n * G
                    let gz = gt, gh = gt + 2 * H
                    ga.apply(gh, H, clip: clip)
                    let hs = hState + n * H
                    for k in 0..<H { hs[k] = (1 - gz[k]) * gh[k] + gz[k] * hs[k] }
                    if let y {
                        let o = layout == 0 ? ((t * directions + d) * N + n) * H : ((n * S + t) * directions + d) * H
                        let py = y.floats + o
                        for k in 0..<H { py[k] = hs[k] }
                    }
                }
            }
            if let yH {
                for n in 0..<N {
                    let o = stateOffset(d, n)
                    for k in 0..<H { yH.floats[o + k] = hState[n * H + k] }
                }
            }
        }
    }

    @inline(__always)
    func stateOffset(_ d: Int, _ n: Int) -> Int {
        layout == 0 ? (d * batch + n) * hidden : (n * directions + d) * hidden
    }
}

extension Operators {
    static let gru = OperatorDefinition("GRU", since: 7) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let config = try ctx.rnnConfig(gates: 3, defaultActivations: ["Sigmoid", "Tanh"])
        let linearBeforeReset = try ctx.int("linear_before_reset", default: 0) != 0
        let y = ctx.hasOutput(0) ? try ctx.output(0, .float, config.yShape) : nil
        let yH = ctx.hasOutput(1) ? try ctx.output(1, .float, config.stateShape) : nil
        let scratch = ctx.workspace(bytes: GRUKernel.scratchCount(config) * 4).assumingMemoryBound(to: Float.self)
        return GRUKernel(config: config, linearBeforeReset: linearBeforeReset, y: y, yH: yH, scratch: scratch)
    }
}
