import ONNXFormat

// Shared load-time geometry of Conv and ConvTranspose: attribute parsing, padding and output
// shapes, and the window map that drives im2col (Conv), col2im (ConvTranspose) and the direct
// depthwise loop.

/// Attributes common to Conv and ConvTranspose, validated against the input and weight shapes.
struct ConvAttributes {
    let spatialRank: Int
    let group: Int
    let kernel: [Int]
    let strides: [Int]
    let dilations: [Int]
    /// Explicit `pads` (begin..., end...), nil when absent.
    let pads: [Int]?
    let autoPad: String

    init(_ ctx: NodeContext, x: TensorBuffer, w: TensorBuffer) throws(RuntimeError) {
        guard x.shape.count >= 3 else { throw ctx.error("X must have rank >= 3 (N, C, spatial...), got \(x.shape)") }
        guard w.shape.count == x.shape.count else { throw ctx.error("W \(w.shape) must have the rank of X \(x.shape)") }
        let r = x.shape.count - 2
        spatialRank = r
        group = try ctx.int("group", default: 1)
        guard group >= 1 else { throw ctx.error("group must be >= 1, got \(group)") }
        kernel = Array(w.shape.dropFirst(2))
        if let ks = ctx.ints("kernel_shape"), ks != kernel {
            throw ctx.error("kernel_shape \(ks) does not match W \(w.shape)")
        }
        strides = ctx.ints("strides") ?? [Int](repeating: 1, count: r)
        dilations = ctx.ints("dilations") ?? [Int](repeating: 1, count: r)
        guard strides.count == r, strides.allSatisfy({ $0 >= 1 }) else { throw ctx.error("invalid strides \(strides) for \(r) spatial dims") }
        guard dilations.count == r, dilations.allSatisfy({ $0 >= 1 }) else { throw ctx.error("invalid dilations \(dilations) for \(r) spatial dims") }
        pads = ctx.ints("pads")
        if let pads {
            guard pads.count == 2 * r else { throw ctx.error("pads \(pads) must have \(2 * r) values") }
        }
        autoPad = try ctx.string("auto_pad", default: "NOTSET")
        switch autoPad {
        case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER": break
        default: throw ctx.error("invalid auto_pad '\(autoPad)'")
        }
    }

    /// Effective kernel extent along spatial dim `i`.
    func extent(_ i: Int) -> Int { (kernel[i] - 1) * dilations[i] + 1 }

    /// Conv's (and ConvInteger's) channel checks: X [N, C, ...] and W [M, C / group, ...].
    func checkChannels(_ ctx: NodeContext, x: TensorBuffer, w: TensorBuffer) throws(RuntimeError) {
        let c = x.shape[1], m = w.shape[0]
        guard c % group == 0, m % group == 0 else {
            throw ctx.error("channels \(c) and output channels \(m) must be multiples of group \(group)")
        }
        guard w.shape[1] == c / group else {
            throw ctx.error("W \(w.shape) must have \(c / group) input channels per group (X \(x.shape), group \(group))")
        }
    }

    /// Padding (begin, end) and output spatial shape of a Conv over spatial input `inShape`.
    func geometry(_ ctx: NodeContext, input inShape: [Int]) throws(RuntimeError) -> (padBegin: [Int], padEnd: [Int], output: [Int]) {
        let r = spatialRank
        var padBegin = [Int](repeating: 0, count: r), padEnd = [Int](repeating: 0, count: r)
        var outShape = [Int](repeating: 0, count: r)
        for i in 0..<r {
            let extent = extent(i), s = strides[i]
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                let out = (inShape[i] + s - 1) / s
                let total = max(0, (out - 1) * s + extent - inShape[i])
                let small = total / 2
                padBegin[i] = autoPad == "SAME_UPPER" ? small : total - small
                padEnd[i] = total - padBegin[i]
            case "VALID":
                break
            default:
                if let pads { padBegin[i] = pads[i]; padEnd[i] = pads[i + r] }
            }
            guard padBegin[i] >= 0, padEnd[i] >= 0 else { throw ctx.unsupported("negative pads \(pads ?? [])") }
            let span = inShape[i] + padBegin[i] + padEnd[i] - extent
            guard span >= 0 else {
                throw ctx.error("kernel extent \(extent) exceeds padded input \(inShape[i] + padBegin[i] + padEnd[i]) in spatial dim \(i)")
            }
            outShape[i] = span / s + 1
        }
        return (padBegin, padEnd, outShape)
    }
}

/// Floor division (Python semantics) for possibly negative numerators.
@inline(__always)
func linalgFloorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q
}

/// How kernel taps connect a "position" grid P to a "target" grid Q: position p and tap k meet
/// target q = p * stride + k * dilation - padBegin (per spatial dim), when q lies inside Q.
/// Conv: P = output, Q = input (im2col gathers). ConvTranspose: P = input, Q = output (col2im
/// scatters). Precomputed as contiguous segments along the innermost dim, grouped by tap, so
/// the run-time loops are flat copies (memcpy-like when the innermost stride is 1).
struct ConvWindowMap {
    /// Taps (product of kernel dims).
    let taps: Int
    /// Elements of P and Q.
    let positions: Int, targets: Int
    /// Innermost stride of q per step of p.
    let innerStride: Int
    /// Segments of tap k are `segmentStart[k] ..< segmentStart[k + 1]`.
    let segmentStart: [Int]
    /// Per segment: first p (flat), first q (flat), length.
    let segmentP: [Int], segmentQ: [Int], segmentLength: [Int]
    /// 1-D with few positions (streaming, T ~ 1): loop positions outermost instead, since
    /// per-segment overhead would dominate. Position p meets taps `tapLo[p] ..< tapHi[p]` at
    /// q = `base[p]` + k * `dilation`.
    let byPosition: Bool
    let tapLo: [Int], tapHi: [Int], base: [Int]
    let dilation: Int

    /// Positions up to which 1-D maps loop by position.
    static let byPositionLimit = 8

    init(positions pShape: [Int], targets qShape: [Int], kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int]) {
        let r = pShape.count
        taps = kernel.reduce(1, *)
        positions = pShape.reduce(1, *)
        targets = qShape.reduce(1, *)
        innerStride = strides[r - 1]
        var start: [Int] = [0], sp: [Int] = [], sq: [Int] = [], sl: [Int] = []
        // Row-major strides of Q.
        var qStrides = [Int](repeating: 1, count: r)
        for i in stride(from: r - 2, through: 0, by: -1) { qStrides[i] = qStrides[i + 1] * qShape[i + 1] }
        let pInner = pShape[r - 1], qInner = qShape[r - 1]
        let outerRows = positions == 0 ? 0 : positions / max(pInner, 1)
        var kIndex = [Int](repeating: 0, count: r)
        for _ in 0..<taps {
            // Innermost dim: valid p range for this tap.
            let off = kIndex[r - 1] * dilations[r - 1] - padBegin[r - 1]
            let s = strides[r - 1]
            let lo = max(0, linalgFloorDiv(-off + s - 1, s))
            let hi = min(pInner, linalgFloorDiv(qInner - 1 - off, s) + 1)
            if hi > lo && pInner > 0 {
                // Outer dims: each row of P maps to one row of Q or none.
                var pIndex = [Int](repeating: 0, count: max(r - 1, 0))
                for row in 0..<outerRows {
                    var qBase = 0, valid = true
                    for d in 0..<(r - 1) {
                        let q = pIndex[d] * strides[d] + kIndex[d] * dilations[d] - padBegin[d]
                        if q < 0 || q >= qShape[d] { valid = false; break }
                        qBase += q * qStrides[d]
                    }
                    if valid {
                        sp.append(row * pInner + lo)
                        sq.append(qBase + lo * s + off)
                        sl.append(hi - lo)
                    }
                    var d = r - 2
                    while d >= 0 {
                        pIndex[d] += 1
                        if pIndex[d] < pShape[d] { break }
                        pIndex[d] = 0
                        d -= 1
                    }
                }
            }
            start.append(sp.count)
            var d = r - 1
            while d >= 0 {
                kIndex[d] += 1
                if kIndex[d] < kernel[d] { break }
                kIndex[d] = 0
                d -= 1
            }
        }
        segmentStart = start; segmentP = sp; segmentQ = sq; segmentLength = sl
        dilation = dilations[r - 1]
        byPosition = r == 1 && positions <= ConvWindowMap.byPositionLimit
        var lo: [Int] = [], hi: [Int] = [], bases: [Int] = []
        if byPosition {
            let d = dilations[0]
            for p in 0..<positions {
                let b = p * strides[0] - padBegin[0]
                let l = max(0, linalgFloorDiv(-b + d - 1, d))
                let h = min(kernel[0], linalgFloorDiv(qShape[0] - 1 - b, d) + 1)
                lo.append(l); hi.append(max(l, h)); bases.append(b)
            }
        }
        tapLo = lo; tapHi = hi; base = bases
    }

    /// im2col for one channel: `col[k * positions + p] = x[q]` for every connected (k, p, q).
    /// Unconnected entries are left untouched (they stay zero in a dedicated workspace). Any
    /// element type (float for Conv, int16 for ConvInteger).
    @inline(__always)
    func gather<T>(_ x: UnsafePointer<T>, into col: UnsafeMutablePointer<T>) {
        let s = innerStride, positions = self.positions
        if byPosition {
            let d = dilation
            tapLo.withUnsafeBufferPointer { lo in
                tapHi.withUnsafeBufferPointer { hi in
                    base.withUnsafeBufferPointer { bs in
                        for p in 0..<positions {
                            let src = x + bs[p]
                            for k in lo[p]..<hi[p] { col[k * positions + p] = src[k * d] }
                        }
                    }
                }
            }
            return
        }
        segmentStart.withUnsafeBufferPointer { st in
            segmentP.withUnsafeBufferPointer { sp in
                segmentQ.withUnsafeBufferPointer { sq in
                    segmentLength.withUnsafeBufferPointer { sl in
                        for k in 0..<taps {
                            let row = col + k * positions
                            for g in st[k]..<st[k + 1] {
                                let dst = row + sp[g], src = x + sq[g], len = sl[g]
                                if s == 1 {
                                    dst.update(from: src, count: len)
                                } else {
                                    for j in 0..<len { dst[j] = src[j * s] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// col2im for one channel: `y[q] += col[k * positions + p]` for every connected (k, p, q).
    @inline(__always)
    func scatterAdd(_ col: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let s = innerStride, positions = self.positions
        if byPosition {
            let d = dilation
            tapLo.withUnsafeBufferPointer { lo in
                tapHi.withUnsafeBufferPointer { hi in
                    base.withUnsafeBufferPointer { bs in
                        for p in 0..<positions {
                            let dst = y + bs[p]
                            for k in lo[p]..<hi[p] { dst[k * d] += col[k * positions + p] }
                        }
                    }
                }
            }
            return
        }
        segmentStart.withUnsafeBufferPointer { st in
            segmentP.withUnsafeBufferPointer { sp in
                segmentQ.withUnsafeBufferPointer { sq in
                    segmentLength.withUnsafeBufferPointer { sl in
                        for k in 0..<taps {
                            let row = col + k * positions
                            for g in st[k]..<st[k + 1] {
                                let src = row + sp[g], dst = y + sq[g], len = sl[g]
                                if s == 1 {
                                    for j in 0..<len { dst[j] += src[j] }
                                } else {
                                    for j in 0..<len { dst[j * s] += src[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Direct depthwise convolution of one batch item: output channel m (of `channels`) reads
    /// input channel m / `multiplier`: `y[m, p] = bias[m] + sum_k w[m, k] * x[m / multiplier, q]`
    /// over every connected (k, p, q).
    @inline(__always)
    func depthwise(_ x: UnsafePointer<Float>, weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                   into y: UnsafeMutablePointer<Float>, channels: Int, multiplier: Int) {
        let s = innerStride, positions = self.positions, targets = self.targets
        if byPosition {
            let d = dilation
            tapLo.withUnsafeBufferPointer { lo in
                tapHi.withUnsafeBufferPointer { hi in
                    base.withUnsafeBufferPointer { bs in
                        for m in 0..<channels {
                            let xm = x + (m / multiplier) * targets, wm = w + m * taps, ym = y + m * positions
                            let b = bias?[m] ?? 0
                            for p in 0..<positions {
                                let src = xm + bs[p]
                                var acc = b
                                for k in lo[p]..<hi[p] { acc += wm[k] * src[k * d] }
                                ym[p] = acc
                            }
                        }
                    }
                }
            }
            return
        }
        linalgFillChannels(y, channels: channels, size: positions, bias: bias)
        segmentStart.withUnsafeBufferPointer { st in
            segmentP.withUnsafeBufferPointer { sp in
                segmentQ.withUnsafeBufferPointer { sq in
                    segmentLength.withUnsafeBufferPointer { sl in
                        for m in 0..<channels {
                            let xm = x + (m / multiplier) * targets, wm = w + m * taps, ym = y + m * positions
                            for k in 0..<taps {
                                let wk = wm[k]
                                for g in st[k]..<st[k + 1] {
                                    let dst = ym + sp[g], src = xm + sq[g], len = sl[g]
                                    if s == 1 {
                                        for j in 0..<len { dst[j] += wk * src[j] }
                                    } else {
                                        for j in 0..<len { dst[j] += wk * src[j * s] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Fills each channel row of `y` (channels x size) with its bias value, or zero.
@inline(__always)
func linalgFillChannels(_ y: UnsafeMutablePointer<Float>, channels: Int, size: Int, bias: UnsafePointer<Float>?) {
    for c in 0..<channels {
        let row = y + c * size
        let v = bias?[c] ?? 0
        for j in 0..<size { row[j] = v }
    }
}
