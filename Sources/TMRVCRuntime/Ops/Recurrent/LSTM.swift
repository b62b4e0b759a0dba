import ONNXFormat

// ONNX LSTM (opset 7+; layout from 14): forward, reverse or bidirectional; optional B, P
// (peepholes), initial_h, initial_c; sequence_lens only when every sequence is full length.
// Gate order in W, R, B: i, o, f, c; in P: i, o, f.
// Per direction, the input projection of all time steps is one sgemm; each step then does one
// sgemm (sgemv for batch 1) with R and the element-wise gate math.

final class LSTMKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, w: TensorBuffer, r: TensorBuffer
    let b: TensorBuffer?, p: TensorBuffer?
    let initialH: TensorBuffer?, initialC: TensorBuffer?
    let y: TensorBuffer?, yH: TensorBuffer?, yC: TensorBuffer?
    let directions: Int, hidden: Int, batch: Int, sequence: Int, inputSize: Int, layout: Int
    let reverse: [Bool]
    let f: [RNNActivation], g: [RNNActivation], h: [RNNActivation]
    let clip: Float
    // Scratch (floats): projections [seq*batch, 4H], gates [batch, 4H], h [batch, H],
    // c [batch, H], bias [4H], temp [H].
    let projections: UnsafeMutablePointer<Float>, gates: UnsafeMutablePointer<Float>
    let hState: UnsafeMutablePointer<Float>, cState: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>, temp: UnsafeMutablePointer<Float>

    init(config c: RNNConfig, p: TensorBuffer?, initialC: TensorBuffer?, y: TensorBuffer?, yH: TensorBuffer?,
         yC: TensorBuffer?, scratch: UnsafeMutablePointer<Float>) {
        x = c.x; w = c.w; r = c.r; b = c.b; self.p = p; initialH = c.initialH; self.initialC = initialC
        self.y = y; self.yH = yH; self.yC = yC
        directions = c.directions; hidden = c.hidden; batch = c.batch; sequence = c.sequence
        inputSize = c.inputSize; layout = c.layout; reverse = c.reverse
        f = c.activations.map { $0[0] }; g = c.activations.map { $0[1] }; h = c.activations.map { $0[2] }
        clip = c.clip
        let g4 = 4 * c.hidden
        projections = scratch
        gates = projections + c.sequence * c.batch * g4
        hState = gates + c.batch * g4
        cState = hState + c.batch * c.hidden
        bias = cState + c.batch * c.hidden
        temp = bias + g4
    }

    static func scratchCount(_ c: RNNConfig) -> Int {
        let g4 = 4 * c.hidden
        return c.sequence * c.batch * g4 + c.batch * g4 + 2 * c.batch * c.hidden + g4 + c.hidden
    }

    override func run() {
        let H = hidden, G = 4 * hidden, S = sequence, N = batch
        let px = UnsafePointer(x.floats)
        for d in 0..<directions {
            let wd = UnsafePointer(w.floats + d * G * inputSize)
            let rd = UnsafePointer(r.floats + d * G * H)
            // Bias: Wb + Rb.
            if let b {
                let bd = b.floats + d * 2 * G
                for j in 0..<G { bias[j] = bd[j] + bd[G + j] }
            } else {
                for j in 0..<G { bias[j] = 0 }
            }
            let peep = p.map { UnsafePointer($0.floats + d * 3 * H) }
            // Initial state.
            for n in 0..<N {
                let o = stateOffset(d, n)
                let hs = hState + n * H, cs = cState + n * H
                if let ih = initialH { for k in 0..<H { hs[k] = ih.floats[o + k] } } else { for k in 0..<H { hs[k] = 0 } }
                if let ic = initialC { for k in 0..<H { cs[k] = ic.floats[o + k] } } else { for k in 0..<H { cs[k] = 0 } }
            }
            // Input projections for every step: rows in X's memory order.
            rnnGemmNT(m: S * N, n: G, k: inputSize, a: px, lda: inputSize, b: wd, ldb: inputSize, c: projections, ldc: G)
            let fa = f[d], ga = g[d], ha = h[d]
            for s in 0..<S {
                let t = reverse[d] ? S - 1 - s : s
                rnnGemmNT(m: N, n: G, k: H, a: UnsafePointer(hState), lda: H, b: rd, ldb: H, c: gates, ldc: G)
                for n in 0..<N {
                    let row = layout == 0 ? t * N + n : n * S + t
                    let gt = gates + n * G, xw = projections + row * G
                    for j in 0..<G { gt[j] += xw[j] + bias[j] }
                    let gi = gt, go = gt + H, gf = gt + 2 * H, gc = gt + 3 * H
                    let cs = cState + n * H, hs = hState + n * H
                    if let peep {
                        for k in 0..<H { gi[k] += peep[k] * cs[k]; gf[k] += peep[2 * H + k] * cs[k] }
                    }
                    fa.apply(gi, H, clip: clip)
                    fa.apply(gf, H, clip: clip)
                    ga.apply(gc, H, clip: clip)
                    for k in 0..<H { cs[k] = gf[k] * cs[k] + gi[k] * gc[k] }
                    if let peep {
                        for k in 0..<H { go[k] += peep[H + k] * cs[k] }
                    }
                    fa.apply(go, H, clip: clip)
                    // clip bounds the gate inputs only, not the cell state fed to h (as ONNX Runtime).
                    for k in 0..<H { temp[k] = cs[k] }
                    ha.apply(temp, H, clip: .infinity)
                    for k in 0..<H { hs[k] = go[k] * temp[k] }
                    if let y {
                        let o = layout == 0 ? ((t * directions + d) * N + n) * H : ((n * S + t) * directions + d) * H
                        let py = y.floats + o
                        for k in 0..<H { py[k] = hs[k] }
                    }
                }
            }
            for n in 0..<N {
                let o = stateOffset(d, n)
                if let yH { for k in 0..<H { yH.floats[o + k] = hState[n * H + k] } }
                if let yC { for k in 0..<H { yC.floats[o + k] = cState[n * H + k] } }
            }
        }
    }

    @inline(__always)
    func stateOffset(_ d: Int, _ n: Int) -> Int {
        layout == 0 ? (d * batch + n) * hidden : (n * directions + d) * hidden
    }
}

extension Operators {
    static let lstm = OperatorDefinition("LSTM", since: 7) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let config = try ctx.rnnConfig(gates: 4, defaultActivations: ["Sigmoid", "Tanh", "Tanh"])
        if try ctx.int("input_forget", default: 0) != 0 {
            throw ctx.unsupported("input_forget = 1 (coupled input and forget gates) is not supported")
        }
        let initialC = ctx.optionalInput(6)
        if let c = initialC {
            guard c.dataType == .float else { throw ctx.unsupported("initial_c is \(c.dataType); only float32 is supported") }
            guard c.shape == config.stateShape else { throw ctx.error("initial_c must have shape \(config.stateShape), got \(c.shape)") }
        }
        let p = ctx.optionalInput(7)
        if let p {
            guard p.dataType == .float else { throw ctx.unsupported("P is \(p.dataType); only float32 is supported") }
            guard p.shape == [config.directions, 3 * config.hidden] else {
                throw ctx.error("P must have shape \([config.directions, 3 * config.hidden]), got \(p.shape)")
            }
        }
        let y = ctx.hasOutput(0) ? try ctx.output(0, .float, config.yShape) : nil
        let yH = ctx.hasOutput(1) ? try ctx.output(1, .float, config.stateShape) : nil
        let yC = ctx.hasOutput(2) ? try ctx.output(2, .float, config.stateShape) : nil
        let scratch = ctx.workspace(bytes: LSTMKernel.scratchCount(config) * 4).assumingMemoryBound(to: Float.self)
        return LSTMKernel(config: config, p: p, initialC: initialC, y: y, yH: yH, yC: yC, scratch: scratch)
    }
}
