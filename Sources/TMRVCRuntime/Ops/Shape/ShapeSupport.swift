import ONNXFormat

// Shared machinery of the shape and data-movement operators: axis/stride helpers and a
// type-agnostic strided copy planned entirely at load.

/// Load-time helpers of the shape operators (namespaced to avoid clashes with other families).
enum ShapeSupport {
    /// Row-major element strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// Product of the dimensions.
    static func product<S: Sequence>(_ dims: S) -> Int where S.Element == Int { dims.reduce(1, *) }

    /// `axis` normalized into `0..<rank` (negative counts from the end), or an error.
    static func axis(_ axis: Int, rank: Int, _ ctx: NodeContext, what: String = "axis") throws(RuntimeError) -> Int {
        guard axis >= -rank && axis < rank else {
            throw ctx.error("\(what) \(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// Distinct axes normalized into `0..<rank`, or an error on duplicates / out-of-range values.
    static func axes(_ axes: [Int], rank: Int, _ ctx: NodeContext) throws(RuntimeError) -> [Int] {
        var out: [Int] = []
        for a in axes {
            let n = try axis(a, rank: rank, ctx, what: "axis")
            guard !out.contains(n) else { throw ctx.error("axis \(a) is repeated in \(axes)") }
            out.append(n)
        }
        return out
    }

    /// True when reading `shape` in the order of `perm` keeps the non-unit dimensions in order,
    /// i.e. the permutation only moves size-1 dimensions and the result is a view.
    static func isViewPermutation(_ perm: [Int], of shape: [Int]) -> Bool {
        let moved = perm.filter { shape[$0] != 1 }
        return moved == moved.sorted()
    }

    /// The little-endian bytes of `value` converted to `type` (nil for types without a numeric
    /// encoding here).
    static func scalarBytes(_ value: Double, as type: DataType) -> [UInt8]? {
        func bytes<T>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
        func int<T: FixedWidthInteger>(_: T.Type) -> [UInt8] {
            let clamped = value.isNaN ? 0 : min(max(value.rounded(.towardZero), Double(T.min)), Double(T.max))
            return bytes(T(clamped))
        }
        switch type {
        case .float: return bytes(Float(value))
        case .double: return bytes(value)
        case .float16: return bytes(Float16(value).bitPattern)
        case .bfloat16: return bytes(bfloat16Bits(Float(value)))
        case .int8: return int(Int8.self)
        case .int16: return int(Int16.self)
        case .int32: return int(Int32.self)
        case .int64: return int(Int64.self)
        case .uint8: return int(UInt8.self)
        case .uint16: return int(UInt16.self)
        case .uint32: return int(UInt32.self)
        case .uint64: return int(UInt64.self)
        case .bool: return [value != 0 ? 1 : 0]
        default: return nil
        }
    }

    /// bfloat16 bits of `f`, rounded to nearest even.
    static func bfloat16Bits(_ f: Float) -> UInt16 {
        if f.isNaN { return 0x7FC0 }
        let b = f.bitPattern
        let rounding = UInt32(0x7FFF) + ((b >> 16) & 1)
        return UInt16((b &+ rounding) >> 16)
    }

    /// Reads element `i` of a scalar-like numeric buffer as Double (nil for other types).
    static func scalar(_ b: TensorBuffer, _ i: Int = 0) -> Double? {
        switch b.dataType {
        case .float: return Double(b.floats[i])
        case .double: return b.doubles[i]
        case .float16: return Double(Float(Float16(bitPattern: b.data.assumingMemoryBound(to: UInt16.self)[i])))
        case .bfloat16: return Double(Float(bitPattern: UInt32(b.data.assumingMemoryBound(to: UInt16.self)[i]) << 16))
        case .int8: return Double(b.data.assumingMemoryBound(to: Int8.self)[i])
        case .int16: return Double(b.data.assumingMemoryBound(to: Int16.self)[i])
        case .int32: return Double(b.int32s[i])
        case .int64: return Double(b.int64s[i])
        case .uint8, .bool: return Double(b.bytes[i])
        case .uint16: return Double(b.data.assumingMemoryBound(to: UInt16.self)[i])
        case .uint32: return Double(b.data.assumingMemoryBound(to: UInt32.self)[i])
        case .uint64: return Double(b.data.assumingMemoryBound(to: UInt64.self)[i])
        default: return nil
        }
    }

    /// The moving unit (1, 2, 4 or 8 bytes) for elements of `elementSize` bytes.
    static func unit(forElementSize size: Int) -> Int {
        for u in [8, 4, 2] where size % u == 0 { return u }
        return 1
    }
}

/// Copies elements of `elementSize` bytes between two strided layouts: `shape` is iterated in
/// row-major order; element `index` is read at `srcOffset + Σ index·srcStrides` and written at
/// `dstOffset + Σ index·dstStrides` (all in elements). Dimensions are coalesced at load; the inner
/// loop is a memcpy, a fill (broadcast), a cache-blocked 2-D transpose or a strided loop.
final class StridedCopyPlan: @unchecked Sendable {
    enum Inner { case empty, contiguous, fill, transpose, strided }

    /// Bytes moved per unit (1, 2, 4 or 8).
    let unit: Int
    let rank: Int
    let inner: Inner
    let dims: UnsafeMutablePointer<Int>
    let src: UnsafeMutablePointer<Int>
    let dst: UnsafeMutablePointer<Int>
    let counters: UnsafeMutablePointer<Int>
    /// Dimensions iterated by the odometer (the rest belong to the inner loop).
    let outerRank: Int
    let srcOffset: Int
    let dstOffset: Int
    /// Coalesced shape and strides (for tests and diagnostics).
    let coalescedShape: [Int]

    init(elementSize: Int, shape: [Int], srcStrides: [Int], dstStrides: [Int], srcOffset: Int = 0, dstOffset: Int = 0) {
        precondition(shape.count == srcStrides.count && shape.count == dstStrides.count)
        let u = ShapeSupport.unit(forElementSize: elementSize)
        let factor = elementSize / u
        unit = u
        self.srcOffset = srcOffset * factor
        self.dstOffset = dstOffset * factor
        var d: [Int] = [], s: [Int] = [], t: [Int] = []
        var empty = false
        for i in 0..<shape.count {
            if shape[i] == 0 { empty = true }
            if shape[i] == 1 { continue }
            d.append(shape[i]); s.append(srcStrides[i] * factor); t.append(dstStrides[i] * factor)
        }
        if factor > 1 { d.append(factor); s.append(1); t.append(1) }
        // Merge a dimension into its outer neighbour when both layouts are contiguous across them.
        var i = d.count - 1
        while i > 0 {
            if s[i - 1] == s[i] * d[i] && t[i - 1] == t[i] * d[i] {
                d[i - 1] *= d[i]; s[i - 1] = s[i]; t[i - 1] = t[i]
                d.remove(at: i); s.remove(at: i); t.remove(at: i)
            }
            i -= 1
        }
        if d.isEmpty { d = [1]; s = [1]; t = [1] }
        let r = d.count
        rank = r
        coalescedShape = d
        let kind: Inner
        if empty {
            kind = .empty
        } else if s[r - 1] == 1 && t[r - 1] == 1 {
            kind = .contiguous
        } else if s[r - 1] == 0 && t[r - 1] == 1 {
            kind = .fill
        } else if r >= 2 && t[r - 1] == 1 && s[r - 2] == 1 && d[r - 1] >= 4 && d[r - 2] >= 4 {
            kind = .transpose
        } else {
            kind = .strided
        }
        inner = kind
        outerRank = kind == .transpose ? r - 2 : r - 1
        dims = .allocate(capacity: r); dims.initialize(from: d, count: r)
        src = .allocate(capacity: r); src.initialize(from: s, count: r)
        dst = .allocate(capacity: r); dst.initialize(from: t, count: r)
        counters = .allocate(capacity: r); counters.initialize(repeating: 0, count: r)
    }

    deinit {
        dims.deallocate(); src.deallocate(); dst.deallocate(); counters.deallocate()
    }

    /// Performs the copy (no allocation).
    @inline(__always)
    func run(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer) {
        switch unit {
        case 8: go(UInt64.self, source, destination)
        case 4: go(UInt32.self, source, destination)
        case 2: go(UInt16.self, source, destination)
        default: go(UInt8.self, source, destination)
        }
    }

    @inline(__always)
    private func go<T: SIMDScalar>(_: T.Type, _ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer) {
        if inner == .empty { return }
        let s0 = source.assumingMemoryBound(to: T.self) + srcOffset
        let d0 = destination.assumingMemoryBound(to: T.self) + dstOffset
        let m = outerRank
        if m == 0 { innerLoop(s0, d0); return }
        if m == 1 {
            // Rows of a 2-D layout (e.g. the channel rows of a [1,C,L] concat slot).
            let rows = dims[0], ss = src[0], ds = dst[0]
            if inner == .contiguous {
                let n = dims[1]
                if n <= 8 {
                    for r in 0..<rows {
                        let ps = s0 + r * ss, pd = d0 + r * ds
                        for i in 0..<n { pd[i] = ps[i] }
                    }
                } else {
                    let bytes = n * MemoryLayout<T>.stride
                    for r in 0..<rows { UnsafeMutableRawPointer(d0 + r * ds).copyMemory(from: s0 + r * ss, byteCount: bytes) }
                }
            } else {
                for r in 0..<rows { innerLoop(s0 + r * ss, d0 + r * ds) }
            }
            return
        }
        for k in 0..<m { counters[k] = 0 }
        var ps = s0, pd = d0
        while true {
            innerLoop(ps, pd)
            var k = m - 1
            while true {
                counters[k] += 1
                ps += src[k]; pd += dst[k]
                if counters[k] < dims[k] { break }
                counters[k] = 0
                ps -= src[k] * dims[k]; pd -= dst[k] * dims[k]
                if k == 0 { return }
                k -= 1
            }
        }
    }

    @inline(__always)
    private func innerLoop<T: SIMDScalar>(_ s: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>) {
        let r = rank
        let n = dims[r - 1]
        switch inner {
        case .contiguous:
            if n <= 8 {
                for i in 0..<n { d[i] = s[i] }
            } else {
                UnsafeMutableRawPointer(d).copyMemory(from: s, byteCount: n * MemoryLayout<T>.stride)
            }
        case .fill:
            let v = s[0]
            for i in 0..<n { d[i] = v }
        case .strided:
            let ss = src[r - 1], ds = dst[r - 1]
            for i in 0..<n { d[i * ds] = s[i * ss] }
        case .transpose:
            transposeTiles(s, d, rows: dims[r - 2], cols: n, sC: src[r - 1], dR: dst[r - 2])
        case .empty:
            break
        }
    }

    /// d[i*dR + j] = s[i + j*sC] for i < rows, j < cols: 4x4 register tiles (source columns are
    /// contiguous in i, destination rows in j) inside 16x16 cache blocks, scalar edges.
    @inline(__always)
    private func transposeTiles<T: SIMDScalar>(_ s: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>,
                                               rows: Int, cols: Int, sC: Int, dR: Int) {
        let block = 16
        let raw = UnsafeRawPointer(s), stride = MemoryLayout<T>.stride
        var i0 = 0
        while i0 < rows {
            let i1 = min(i0 + block, rows)
            var j0 = 0
            while j0 < cols {
                let j1 = min(j0 + block, cols)
                var i = i0
                while i + 4 <= i1 {
                    var j = j0
                    while j + 4 <= j1 {
                        let c0 = raw.loadUnaligned(fromByteOffset: (i + j * sC) * stride, as: SIMD4<T>.self)
                        let c1 = raw.loadUnaligned(fromByteOffset: (i + (j + 1) * sC) * stride, as: SIMD4<T>.self)
                        let c2 = raw.loadUnaligned(fromByteOffset: (i + (j + 2) * sC) * stride, as: SIMD4<T>.self)
                        let c3 = raw.loadUnaligned(fromByteOffset: (i + (j + 3) * sC) * stride, as: SIMD4<T>.self)
                        let out = UnsafeMutableRawPointer(d + i * dR + j)
                        let rowBytes = dR * stride
                        out.storeBytes(of: SIMD4(c0[0], c1[0], c2[0], c3[0]), as: SIMD4<T>.self)
                        (out + rowBytes).storeBytes(of: SIMD4(c0[1], c1[1], c2[1], c3[1]), as: SIMD4<T>.self)
                        (out + 2 * rowBytes).storeBytes(of: SIMD4(c0[2], c1[2], c2[2], c3[2]), as: SIMD4<T>.self)
                        (out + 3 * rowBytes).storeBytes(of: SIMD4(c0[3], c1[3], c2[3], c3[3]), as: SIMD4<T>.self)
                        j += 4
                    }
                    for jj in j..<j1 {
                        for ii in i..<(i + 4) { d[ii * dR + jj] = s[ii + jj * sC] }
                    }
                    i += 4
                }
                for ii in i..<i1 {
                    let drow = d + ii * dR
                    let scol = s + ii
                    for jj in j0..<j1 { drow[jj] = scol[jj * sC] }
                }
                j0 = j1
            }
            i0 = i1
        }
    }
}

/// Runs a fixed list of strided copies between buffers (Transpose, Slice, Concat, Split,
/// Expand, Tile, DepthToSpace...).
final class StridedCopyKernel: Kernel, @unchecked Sendable {
    struct Step {
        let source: TensorBuffer
        let destination: TensorBuffer
        let plan: StridedCopyPlan
    }
    let steps: [Step]

    init(_ steps: [Step]) { self.steps = steps }

    convenience init(from source: TensorBuffer, to destination: TensorBuffer, plan: StridedCopyPlan) {
        self.init([Step(source: source, destination: destination, plan: plan)])
    }

    override func run() {
        for step in steps {
            step.plan.run(from: UnsafeRawPointer(step.source.data), to: step.destination.data)
        }
    }
}
