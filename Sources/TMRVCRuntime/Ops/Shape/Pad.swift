import ONNXFormat

// ONNX Pad: constant, reflect, edge and wrap modes; negative pads crop (applied before padding,
// as onnxruntime does). Pads (and axes, opset 18) must be load-time constants; the constant
// value may be a run-time scalar. Every output row is planned at load: its source row (or
// "all constant"), and for the innermost dimension a source index per position plus the
// contiguous middle copied with one memcpy.

final class PadKernel: Kernel, @unchecked Sendable {
    let x: TensorBuffer, out: TensorBuffer
    /// Run-time constant value (nil when known at load or not used).
    let value: TensorBuffer?
    /// Fill element (16 bytes of aligned scratch).
    let fill: UnsafeMutableRawPointer
    let elementSize: Int
    let rowLength: Int
    /// Element offset of each output row's source row, or -1 for an all-constant row.
    let rowSource: [Int]
    /// Source index in the innermost dimension per output position, or -1 for constant.
    let innerMap: [Int]
    /// Output positions [middleStart, middleEnd) copy contiguously from innerMap[middleStart].
    let middleStart: Int, middleEnd: Int

    init(x: TensorBuffer, out: TensorBuffer, value: TensorBuffer?, fill: UnsafeMutableRawPointer,
         rowSource: [Int], innerMap: [Int], middleStart: Int, middleEnd: Int) {
        self.x = x; self.out = out; self.value = value; self.fill = fill
        self.elementSize = x.dataType.byteSize!
        self.rowLength = innerMap.count
        self.rowSource = rowSource; self.innerMap = innerMap
        self.middleStart = middleStart; self.middleEnd = middleEnd
    }

    @inline(__always)
    func typed<T>(_: T.Type) {
        let v = fill.load(as: T.self)
        let s = UnsafePointer(x.data.assumingMemoryBound(to: T.self))
        var d = out.data.assumingMemoryBound(to: T.self)
        let n = rowLength, lo = middleStart, hi = middleEnd
        rowSource.withUnsafeBufferPointer { rows in
            innerMap.withUnsafeBufferPointer { map in
                for r in 0..<rows.count {
                    let source = rows[r]
                    if source < 0 {
                        for i in 0..<n { d[i] = v }
                    } else {
                        let ps = s + source
                        for o in 0..<lo { let m = map[o]; d[o] = m < 0 ? v : ps[m] }
                        if hi > lo {
                            UnsafeMutableRawPointer(d + lo).copyMemory(from: ps + map[lo], byteCount: (hi - lo) * MemoryLayout<T>.stride)
                        }
                        for o in hi..<n { let m = map[o]; d[o] = m < 0 ? v : ps[m] }
                    }
                    d += n
                }
            }
        }
    }

    override func run() {
        if let value { fill.copyMemory(from: value.data, byteCount: elementSize) }
        switch elementSize {
        case 4: typed(UInt32.self)
        case 8: typed(UInt64.self)
        case 2: typed(UInt16.self)
        default: typed(UInt8.self)
        }
    }
}

enum PadMode: String { case constant, reflect, edge, wrap }

extension Operators {
    static let pad = OperatorDefinition("Pad", since: 2) { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        let rank = x.shape.count
        guard let size = x.dataType.byteSize, [1, 2, 4, 8].contains(size) else {
            throw ctx.unsupported("element type \(x.dataType) is not supported")
        }
        let modeName = try ctx.string("mode", default: "constant")
        guard let mode = PadMode(rawValue: modeName) else { throw ctx.error("unknown mode '\(modeName)'") }
        let pads: [Int]
        if ctx.opset >= 11 {
            pads = try ctx.constantInts(1)
            guard try ctx.input(1).shape.count == 1 else { throw ctx.error("pads must be 1-D") }
        } else {
            guard let p = ctx.ints("pads") else { throw ctx.error("missing required attribute 'pads'") }
            pads = p
        }
        var axes = Array(0..<rank)
        if ctx.opset < 18, ctx.optionalInput(3) != nil { throw ctx.error("the axes input needs opset 18") }
        if ctx.opset >= 18, ctx.optionalInput(3) != nil {
            axes = try ShapeSupport.axes(try ctx.constantInts(3), rank: rank, ctx)
        }
        guard pads.count == 2 * axes.count else {
            throw ctx.error("pads \(pads) must have 2 values per padded axis (\(axes.count) axes)")
        }
        var before = [Int](repeating: 0, count: rank), after = before
        for (k, a) in axes.enumerated() {
            before[a] = pads[k]
            after[a] = pads[axes.count + k]
        }
        // Fill value.
        let fill = ctx.workspace(bytes: 16)
        var runtimeValue: TensorBuffer? = nil
        if mode == .constant {
            if ctx.opset >= 11 {
                if let v = ctx.optionalInput(2) {
                    guard v.dataType == x.dataType else {
                        throw ctx.error("constant_value is \(v.dataType), data is \(x.dataType)")
                    }
                    guard v.count == 1 else { throw ctx.error("constant_value must be a scalar, got shape \(v.shape)") }
                    if v.isConstant { fill.copyMemory(from: v.data, byteCount: size) } else { runtimeValue = v }
                }
            } else {
                let value = Double(try ctx.float("value", default: 0))
                guard let bytes = ShapeSupport.scalarBytes(value, as: x.dataType) else {
                    throw ctx.unsupported("constant value for element type \(x.dataType)")
                }
                bytes.withUnsafeBytes { fill.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
        }
        // Per-dimension source index maps (-1 = constant).
        var maps: [[Int]] = []
        var shape: [Int] = []
        for d in 0..<rank {
            let cropStart = max(0, -before[d])
            let kept = x.shape[d] - cropStart - max(0, -after[d])
            guard kept >= 0 else {
                throw ctx.error("pads \(pads) remove more than dimension \(d) of \(x.shape)")
            }
            let b = max(before[d], 0), e = max(after[d], 0)
            if kept == 0 && b + e > 0 && mode != .constant {
                throw ctx.error("\(mode.rawValue) padding of an empty dimension \(d) of \(x.shape)")
            }
            var map: [Int] = []
            for o in 0..<(b + kept + e) {
                let j = o - b
                if j >= 0 && j < kept { map.append(cropStart + j); continue }
                switch mode {
                case .constant: map.append(-1)
                case .edge: map.append(cropStart + min(max(j, 0), kept - 1))
                case .wrap: map.append(cropStart + ((j % kept) + kept) % kept)
                case .reflect:
                    if kept == 1 { map.append(cropStart); break }
                    let period = 2 * (kept - 1)
                    let m = ((j % period) + period) % period
                    map.append(cropStart + (m < kept ? m : period - m))
                }
            }
            maps.append(map)
            shape.append(map.count)
        }
        if before.allSatisfy({ $0 == 0 }) && after.allSatisfy({ $0 == 0 }) {
            try ctx.aliasOutput(0, of: x, shape: x.shape)
            return nil
        }
        let out = try ctx.output(0, x.dataType, shape)
        if rank == 0 || out.count == 0 { return nil }
        let strides = ShapeSupport.strides(x.shape)
        let rowCount = ShapeSupport.product(shape.dropLast())
        var rowSource: [Int] = []
        rowSource.reserveCapacity(rowCount)
        var index = [Int](repeating: 0, count: rank - 1)
        for _ in 0..<rowCount {
            var offset = 0
            for d in 0..<(rank - 1) {
                let m = maps[d][index[d]]
                if m < 0 { offset = -1; break }
                offset += m * strides[d]
            }
            rowSource.append(offset)
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        let last = rank - 1
        let b = max(before[last], 0)
        let kept = x.shape[last] - max(0, -before[last]) - max(0, -after[last])
        return PadKernel(x: x, out: out, value: runtimeValue, fill: fill, rowSource: rowSource,
                         innerMap: maps[last], middleStart: b, middleEnd: b + kept)
    }
}
