// int8 weight products, y = act(s_w * s_x * sum_k q_w q_x + bias): the weights are symmetric int8
// with one scale per output row (quantised at load, `WeightStorage.int8`), each input column is
// quantised on the fly to int16 with one scale per column, and the products are summed exactly in
// int32. With AVX2 a k-pair of 16 output rows is one 32-byte load, two vpmovsxbw and two vpmaddwd
// (sixteen multiply-adds per instruction, against eight per FMA on float weights): about half the
// instructions of the float16/float32 products. With the per-column quantisation and the float
// epilogue, a model whose weights sit in cache runs about as fast as with float16; the quarter of
// the bytes pays off when the models' weights compete for the caches, as in the per-frame pipeline
// (1.5x float16 there; docs/performance.md, "INT8 weights"). The generic x86-64 build runs the
// same arithmetic through portable SIMD code (the integer sums are exact, so both builds give the
// same sums). `packedInt8Sums` returns the same panels' exact int32 sums for input already in
// int16 (ONNX MatMulInteger / ConvInteger on ONNX Runtime's quantised files), and
// `dynamicQuantizeUInt8` is ONNX DynamicQuantizeLinear. Allocation-free and real-time safe like the
// rest of this target.
#if arch(x86_64) && KERNELS_FMA
import _Builtin_intrinsics.intel
#endif

/// Packed int8 layout (the runtime's `PackedMatrix` with int8 storage): ceil(rows / 16) panels of
/// ceil(depth / 2) k-pair rows of 32 bytes each, byte `2 j + (k & 1)` of pair row `k / 2` holding
/// q[16 p + j, k] (zero padding past `rows` and `depth`).
public enum Int8Layout {
    /// Bytes of one panel's k-pair rows.
    public static func panelBytes(depth: Int) -> Int { (depth + 1) / 2 * 32 }
    /// Byte offset of q[n, k] in the packed weights.
    public static func offset(row n: Int, k: Int, depth: Int) -> Int {
        (n / 16) * panelBytes(depth: depth) + (k / 2) * 32 + (n % 16) * 2 + (k & 1)
    }
    /// Int32 scratch elements `packedInt8` needs: the quantised input, k-pairs x 4 columns.
    public static func scratchCount(depth: Int) -> Int { (depth + 1) / 2 * 4 }
    /// Largest |q_x| for this depth, so that 127 * levels * (padded depth) stays within Int32.
    public static func activationLevels(depth: Int) -> Int {
        min(32767, Int(Int32.max) / (127 * max(2, (depth + 1) & ~1)))
    }
}

/// Round half to even to Int32 for |v| < 2^22 (adding 1.5 * 2^23 leaves the integer in the low
/// mantissa bits, as in `VectorMath.exp`): no conversion calls, the same in both kernel builds.
@inline(__always) func roundedInt32(_ v: SIMD8<Float>) -> SIMD8<Int32> {
    unsafeBitCast(v + SIMD8(repeating: 12_582_912), to: SIMD8<Int32>.self) &- SIMD8(repeating: 0x4B40_0000)
}

@inline(__always) func roundedInt32(_ v: SIMD4<Float>) -> SIMD4<Int32> {
    unsafeBitCast(v + SIMD4(repeating: 12_582_912), to: SIMD4<Int32>.self) &- SIMD4(repeating: 0x4B40_0000)
}

@inline(__always) func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & SIMD8(repeating: 0x7FFF_FFFF), to: SIMD8<Float>.self)
}

@inline(__always) func magnitude(_ v: SIMD4<Float>) -> SIMD4<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD4<UInt32>.self) & SIMD4(repeating: 0x7FFF_FFFF), to: SIMD4<Float>.self)
}

/// Quantises one contiguous column of `depth` floats to int16 (round half to even) into `q`
/// (Int16 index k, so Int32 element kp holds the pair 2 kp, 2 kp + 1; an odd depth's last pair is
/// padded with 0); returns the column's scale peak / levels (0 for an all-zero column, NaN, with
/// q all zero, when a value is not finite).
@inline(__always)
func quantizeColumn(_ x: UnsafePointer<Float>, depth: Int, levels: Float, into scratch: UnsafeMutablePointer<Int32>) -> Float {
    let q = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: Int16.self)
    var peak = SIMD8<Float>(), probe = SIMD8<Float>()
    let raw = UnsafeRawPointer(x)
    var k = 0
    while k + 8 <= depth {
        let v = raw.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
        let a = magnitude(v)
        peak.replace(with: a, where: a .> peak)
        probe += v * 0
        k += 8
    }
    var top = peak.max(), finite = probe.sum() == 0
    while k < depth {
        top = max(top, abs(x[k]))
        finite = finite && x[k].isFinite
        k += 1
    }
    let padded = (depth + 1) & ~1
    guard finite && top.isFinite else {
        for i in 0..<padded { q[i] = 0 }
        return .nan
    }
    let inverse = SIMD8<Float>(repeating: top > 0 ? levels / top : 0)
    k = 0
    while k + 8 <= depth {
        let v = roundedInt32(raw.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self) * inverse)
        UnsafeMutableRawPointer(q + k).storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: v), as: SIMD8<Int16>.self)
        k += 8
    }
    while k < depth {
        q[k] = Int16((x[k] * inverse[0]).rounded(.toNearestOrEven))
        k += 1
    }
    if depth < padded { q[depth] = 0 }
    return top / levels
}

/// Quantises four gathered columns, x[k * 4 + t], into Int32 pairs at q[kp * 4 + t] (the pair's k
/// even in the low half); returns the columns' scales as `quantizeColumn` (columns past the
/// product's are quantised too and never stored).
@inline(__always)
func quantizeGathered(_ x: UnsafePointer<Float>, depth: Int, pairs: Int, levels: Float,
                      into q: UnsafeMutablePointer<Int32>) -> SIMD4<Float> {
    @inline(__always) func load(_ k: Int) -> SIMD4<Float> { UnsafeRawPointer(x + k &* 4).loadUnaligned(as: SIMD4<Float>.self) }
    var peak = SIMD4<Float>(), probe = SIMD4<Float>()
    for k in 0..<depth {
        let v = load(k)
        let a = magnitude(v)
        peak.replace(with: a, where: a .> peak)
        probe += v * 0
    }
    // Non-finite columns: scale NaN and q zero (the products then give NaN, as float weights would).
    let finite = (probe .== 0) .& (peak .< .infinity)
    let usable = finite .& (peak .> 0)
    var inverse = SIMD4<Float>(repeating: 0)
    inverse.replace(with: SIMD4(repeating: levels) / peak, where: usable)
    var scale = peak / levels
    scale.replace(with: .nan, where: .!finite)
    for kp in 0..<pairs {
        let k = 2 * kp
        let q0 = roundedInt32((load(k) * inverse).replacing(with: 0, where: .!finite))
        let q1 = k + 1 < depth ? roundedInt32((load(k + 1) * inverse).replacing(with: 0, where: .!finite)) : SIMD4<Int32>()
        UnsafeMutableRawPointer(q + kp &* 4).storeBytes(of: (q0 & 0xFFFF) | (q1 &<< 16), as: SIMD4<Int32>.self)
    }
    return scale
}

/// y(n, t) = act(scales[n] * s_x(t) * sum_k q[n, k] q_x(k, t) + bias[n]) for `columns` (1...4)
/// columns; column t of x is x[k * xsK + t], with xsK = 4 (columns gathered by four, as the runtime
/// gathers them) or xsK = 1 for one contiguous column; output (n, t) goes to y[n * ysN + t * ysT]. `scratch` holds
/// `Int8Layout.scratchCount(depth:)` Int32. A column with a non-finite value gives NaN outputs (as
/// the float kernels would); an all-zero column gives the bias.
public func packedInt8(weights: UnsafeRawPointer, bias: UnsafePointer<Float>, scales: UnsafePointer<Float>, rows: Int, depth: Int,
                       activation: Int, columns: Int, x: UnsafePointer<Float>, xsK: Int,
                       y: UnsafeMutablePointer<Float>, ysN: Int, ysT: Int, scratch: UnsafeMutablePointer<Int32>) {
    let levels = Float(Int8Layout.activationLevels(depth: depth))
    let pairs = (depth + 1) / 2
    precondition(xsK == 4 || (xsK == 1 && columns == 1), "packedInt8: columns must be contiguous (one) or gathered by four")
    let contiguous = xsK == 1   // contiguous int16 (quantizeColumn); else pairs gathered by 4
    let xScale = contiguous
        ? SIMD4<Float>(quantizeColumn(x, depth: depth, levels: levels, into: scratch), 0, 0, 0)
        : quantizeGathered(x, depth: depth, pairs: pairs, levels: levels, into: scratch)
    let m = Int8Panels(weights: weights, bias: bias, scales: scales, rows: rows, pairs: pairs, activation: activation)
    switch columns {
    case 1: int8Block(OneColumn.self, m, scratch, contiguous ? 1 : 4, xScale, y, ysN, ysT)
    case 2: int8Block(TwoColumns.self, m, scratch, 4, xScale, y, ysN, ysT)
    case 3: int8Block(ThreeColumns.self, m, scratch, 4, xScale, y, ysN, ysT)
    default: int8Block(FourColumns.self, m, scratch, 4, xScale, y, ysN, ysT)
    }
}

struct Int8Panels {
    var weights: UnsafeRawPointer
    var bias: UnsafePointer<Float>
    var scales: UnsafePointer<Float>
    var rows: Int
    var pairs: Int
    var activation: Int
}

/// Lanes 0..7 and 8..15 of one panel's int32 sums for one column.
struct Int8Sums {
    var low = SIMD8<Int32>()
    var high = SIMD8<Int32>()
}

@inline(__always)
func int8Finish(_ m: Int8Panels, _ p: Int, _ s: Int8Sums, _ xScale: Float, _ y: UnsafeMutablePointer<Float>, ysN: Int, valid: Int) {
    let sums = SIMD16<Float>(lowHalf: SIMD8<Float>(s.low), highHalf: SIMD8<Float>(s.high))
    let w = UnsafeRawPointer(m.scales).load(fromByteOffset: p * 64, as: SIMD16<Float>.self)
    let b = UnsafeRawPointer(m.bias).load(fromByteOffset: p * 64, as: SIMD16<Float>.self)
    storeColumn(activate(madd(b, sums, w * SIMD16(repeating: xScale)), m.activation), y, ysN: ysN, valid: valid)
}

/// The int32 sums of one panel (16 rows, `pairs` k-pair rows at `base`) for `C.count` columns of
/// int16 input pairs (Int32 element `kp * stride + t` of `xq` holds column t's pair kp).
@inline(__always)
func int8PanelSums<C: ColumnCount>(_: C.Type, _ base: UnsafeRawPointer, _ pairs: Int, _ xq: UnsafePointer<Int32>,
                                   _ stride: Int) -> (Int8Sums, Int8Sums, Int8Sums, Int8Sums) {
    let c = C.count
    var s0 = Int8Sums(), s1 = Int8Sums(), s2 = Int8Sums(), s3 = Int8Sums()
    #if arch(x86_64) && KERNELS_FMA
    var l0 = _mm256_setzero_si256(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0
    @inline(__always) func accumulate(_ l: inout __m256i, _ h: inout __m256i, _ wl: __m256i, _ wh: __m256i, _ pair: Int32) {
        let x = _mm256_set1_epi32(pair)
        l = _mm256_add_epi32(l, _mm256_madd_epi16(wl, x))
        h = _mm256_add_epi32(h, _mm256_madd_epi16(wh, x))
    }
    for kp in 0..<pairs {
        let wl = _mm256_cvtepi8_epi16(base.load(fromByteOffset: kp &* 32, as: __m128i.self))
        let wh = _mm256_cvtepi8_epi16(base.load(fromByteOffset: kp &* 32 &+ 16, as: __m128i.self))
        let x = xq + kp &* stride
        accumulate(&l0, &h0, wl, wh, x[0])
        if c > 1 { accumulate(&l1, &h1, wl, wh, x[1]) }
        if c > 2 { accumulate(&l2, &h2, wl, wh, x[2]) }
        if c > 3 { accumulate(&l3, &h3, wl, wh, x[3]) }
    }
    @inline(__always) func sums(_ l: __m256i, _ h: __m256i) -> Int8Sums {
        Int8Sums(low: unsafeBitCast(l, to: SIMD8<Int32>.self), high: unsafeBitCast(h, to: SIMD8<Int32>.self))
    }
    s0 = sums(l0, h0)
    if c > 1 { s1 = sums(l1, h1) }
    if c > 2 { s2 = sums(l2, h2) }
    if c > 3 { s3 = sums(l3, h3) }
    #else
    for kp in 0..<pairs {
        let w = base.load(fromByteOffset: kp &* 32, as: SIMD32<Int8>.self)
        let even = SIMD16<Int32>(truncatingIfNeeded: w.evenHalf), odd = SIMD16<Int32>(truncatingIfNeeded: w.oddHalf)
        @inline(__always) func accumulate(_ s: inout Int8Sums, _ pair: Int32) {
            let x0 = SIMD16<Int32>(repeating: Int32(Int16(truncatingIfNeeded: pair)))
            let x1 = SIMD16<Int32>(repeating: Int32(Int16(truncatingIfNeeded: pair >> 16)))
            let r = even &* x0 &+ odd &* x1
            s.low &+= r.lowHalf
            s.high &+= r.highHalf
        }
        let x = xq + kp &* stride
        accumulate(&s0, x[0])
        if c > 1 { accumulate(&s1, x[1]) }
        if c > 2 { accumulate(&s2, x[2]) }
        if c > 3 { accumulate(&s3, x[3]) }
    }
    #endif
    return (s0, s1, s2, s3)
}

@inline(never)
func int8Block<C: ColumnCount>(_: C.Type, _ m: Int8Panels, _ xq: UnsafePointer<Int32>, _ stride: Int, _ xScale: SIMD4<Float>,
                               _ y: UnsafeMutablePointer<Float>, _ ysN: Int, _ ysT: Int) {
    let c = C.count
    let panelBytes = m.pairs * 32
    for p in 0..<(m.rows + 15) / 16 {
        let s = int8PanelSums(C.self, m.weights + p * panelBytes, m.pairs, xq, stride)
        let n0 = p * 16
        let valid = min(16, m.rows - n0)
        int8Finish(m, p, s.0, xScale[0], y + n0 * ysN, ysN: ysN, valid: valid)
        if c > 1 { int8Finish(m, p, s.1, xScale[1], y + n0 * ysN + ysT, ysN: ysN, valid: valid) }
        if c > 2 { int8Finish(m, p, s.2, xScale[2], y + n0 * ysN + 2 * ysT, ysN: ysN, valid: valid) }
        if c > 3 { int8Finish(m, p, s.3, xScale[3], y + n0 * ysN + 3 * ysT, ysN: ysN, valid: valid) }
    }
}

/// y(n, t) = sum_k q[n, k] x(k, t), exact in Int32 (wrapping on overflow, as ONNX's integer
/// products), for `columns` (1...4) columns of int16 input given as pairs: Int32 element
/// `kp * stride + t` of `xq` holds x(2 kp, t) in its low and x(2 kp + 1, t) in its high half
/// (stride 1 for one column, 4 for gathered columns; an odd depth's last high half is 0). Output
/// (n, t) goes to y[n * ysN + t * ysT]. For ONNX MatMulInteger / ConvInteger with constant int8
/// weights; with |x| <= 255 (uint8 minus its zero point) no pair sum can overflow.
public func packedInt8Sums(weights: UnsafeRawPointer, rows: Int, depth: Int, columns: Int, xq: UnsafePointer<Int32>, stride: Int,
                           y: UnsafeMutablePointer<Int32>, ysN: Int, ysT: Int) {
    switch columns {
    case 1: int8SumsBlock(OneColumn.self, weights, rows, depth, xq, stride, y, ysN, ysT)
    case 2: int8SumsBlock(TwoColumns.self, weights, rows, depth, xq, stride, y, ysN, ysT)
    case 3: int8SumsBlock(ThreeColumns.self, weights, rows, depth, xq, stride, y, ysN, ysT)
    default: int8SumsBlock(FourColumns.self, weights, rows, depth, xq, stride, y, ysN, ysT)
    }
}

@inline(never)
func int8SumsBlock<C: ColumnCount>(_: C.Type, _ weights: UnsafeRawPointer, _ rows: Int, _ depth: Int, _ xq: UnsafePointer<Int32>,
                                   _ stride: Int, _ y: UnsafeMutablePointer<Int32>, _ ysN: Int, _ ysT: Int) {
    let pairs = (depth + 1) / 2
    @inline(__always) func store(_ s: Int8Sums, _ y: UnsafeMutablePointer<Int32>, valid: Int) {
        for j in 0..<valid { y[j &* ysN] = j < 8 ? s.low[j] : s.high[j &- 8] }
    }
    for p in 0..<(rows + 15) / 16 {
        let s = int8PanelSums(C.self, weights + p * pairs * 32, pairs, xq, stride)
        let n0 = p * 16, valid = min(16, rows - n0)
        store(s.0, y + n0 * ysN, valid: valid)
        if C.count > 1 { store(s.1, y + n0 * ysN + ysT, valid: valid) }
        if C.count > 2 { store(s.2, y + n0 * ysN + 2 * ysT, valid: valid) }
        if C.count > 3 { store(s.3, y + n0 * ysN + 3 * ysT, valid: valid) }
    }
}

/// ONNX DynamicQuantizeLinear of `count` floats: the range of x widened to include 0 (non-finite
/// values ignored), scale = (max - min) / 255 (1 when max == min, as ONNX Runtime), zero point =
/// round(clamp(-min / scale, 0, 255)), y = clamp(round(x / scale) + zero point, 0, 255), rounding
/// half to even; NaN gives the zero point and ±inf saturates.
public func dynamicQuantizeUInt8(_ x: UnsafePointer<Float>, _ count: Int, _ y: UnsafeMutablePointer<UInt8>,
                                 _ scale: UnsafeMutablePointer<Float>, _ zeroPoint: UnsafeMutablePointer<UInt8>) {
    let raw = UnsafeRawPointer(x)
    var low8 = SIMD8<Float>(), high8 = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        let f = v.replacing(with: 0, where: .!((v - v) .== 0))
        low8.replace(with: f, where: f .< low8)
        high8.replace(with: f, where: f .> high8)
        i += 8
    }
    var low = low8.min(), high = high8.max()
    while i < count {
        if x[i].isFinite { low = min(low, x[i]); high = max(high, x[i]) }
        i += 1
    }
    let s: Float = high == low ? 1 : (high - low) / 255
    let z = Float(roundedInt32(SIMD4(repeating: max(0, min(255, -low / s))))[0])
    scale.pointee = s
    zeroPoint.pointee = UInt8(z)
    // y = clamp(x / s, -z, 255 - z), rounded, + z (NaN -> z).
    let s8 = SIMD8<Float>(repeating: s), lo8 = SIMD8<Float>(repeating: -z), hi8 = SIMD8<Float>(repeating: 255 - z)
    let z8 = SIMD8<Int32>(repeating: Int32(z))
    i = 0
    while i + 8 <= count {
        var q = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) / s8
        q.replace(with: 0, where: .!(q .== q))
        q.replace(with: lo8, where: q .< lo8)
        q.replace(with: hi8, where: q .> hi8)
        UnsafeMutableRawPointer(y + i).storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: roundedInt32(q) &+ z8), as: SIMD8<UInt8>.self)
        i += 8
    }
    while i < count {
        let q = x[i] / s
        y[i] = q.isNaN ? UInt8(z) : UInt8(roundedInt32(SIMD4(repeating: max(-z, min(255 - z, q))))[0] &+ Int32(z))
        i += 1
    }
}
