import ONNXFormat

// ONNX ReduceSum, ReduceMean, ReduceProd, ReduceMax, ReduceMin, ReduceL1, ReduceL2,
// ReduceLogSum, ReduceLogSumExp, ReduceSumSquare.
// Axes come from the `axes` attribute before opset 18 (ReduceSum: 13) and from the optional
// second input (which must be known at load) from then on, where `noop_with_empty_axes` applies.

/// Load-time layout of a reduction: the input is walked in memory order as rows of `rowLength`
/// elements (the innermost coalesced run of reduced or kept dims); each row accumulates into the
/// output at `rowOffsets[row]` (one output element when the run is reduced, `rowLength` otherwise).
struct ReducePlan: @unchecked Sendable {
    /// Elements of the input that fold into each output element.
    let reduceCount: Int
    /// Output elements.
    let outCount: Int
    /// Elements per input row.
    let rowLength: Int
    /// Whether the row's elements all fold into one output element.
    let innerReduced: Bool
    /// Number of input rows (0 for an empty input).
    let rowCount: Int
    /// Output offset of each row (owned by the session).
    let rowOffsets: UnsafeMutablePointer<Int>

    /// Walks every input row: `body(row, output offset)`.
    @inline(__always)
    func forEachRow(_ body: (_ row: Int, _ out: Int) -> Void) {
        for r in 0..<rowCount { body(r * rowLength, rowOffsets[r]) }
    }
}

extension NodeContext {
    /// Plans the reduction of `shape` over the dims flagged in `reduced`.
    func normReducePlan(shape: [Int], reduced: [Bool]) -> ReducePlan {
        let total = shape.reduce(1, *)
        var groups: [(length: Int, reduced: Bool)] = []
        for (d, len) in shape.enumerated() where len != 1 {
            if let last = groups.last, last.reduced == reduced[d] {
                groups[groups.count - 1].length *= len
            } else {
                groups.append((len, reduced[d]))
            }
        }
        if groups.isEmpty { groups = [(1, false)] }
        let reduceCount = zip(shape, reduced).filter { $0.1 }.map { $0.0 }.reduce(1, *)
        let outCount = zip(shape, reduced).filter { !$0.1 }.map { $0.0 }.reduce(1, *)
        let inner = groups.removeLast()
        var outStrides = [Int](repeating: 0, count: groups.count)
        var acc = inner.reduced ? 1 : inner.length
        for g in stride(from: groups.count - 1, through: 0, by: -1) where !groups[g].reduced {
            outStrides[g] = acc
            acc *= groups[g].length
        }
        let rowCount = total == 0 ? 0 : total / inner.length
        let offsets = workspace(bytes: max(rowCount, 1) * MemoryLayout<Int>.stride).assumingMemoryBound(to: Int.self)
        var index = [Int](repeating: 0, count: groups.count)
        for r in 0..<rowCount {
            var o = 0
            for g in 0..<groups.count { o += index[g] * outStrides[g] }
            offsets[r] = o
            var g = groups.count - 1
            while g >= 0 {
                index[g] += 1
                if index[g] < groups[g].length { break }
                index[g] = 0
                g -= 1
            }
        }
        return ReducePlan(reduceCount: reduceCount, outCount: outCount, rowLength: inner.length,
                          innerReduced: inner.reduced, rowCount: rowCount, rowOffsets: offsets)
    }
}

/// Element types of the reductions, with the few operations they need.
protocol ReduceElement {
    static var reduceZero: Self { get }
    static var reduceOne: Self { get }
    static var reduceLowest: Self { get }
    static var reduceHighest: Self { get }
    static func reduceAdd(_ a: Self, _ b: Self) -> Self
    static func reduceMul(_ a: Self, _ b: Self) -> Self
    static func reduceAbs(_ a: Self) -> Self
    /// The larger of `acc` and `x`; NaN propagates.
    static func reduceMax(_ acc: Self, _ x: Self) -> Self
    /// The smaller of `acc` and `x`; NaN propagates.
    static func reduceMin(_ acc: Self, _ x: Self) -> Self
    static func reduceDivide(_ a: Self, by n: Int) -> Self
}

extension ReduceElement where Self: FixedWidthInteger {
    @inline(__always) static var reduceZero: Self { 0 }
    @inline(__always) static var reduceOne: Self { 1 }
    @inline(__always) static var reduceLowest: Self { .min }
    @inline(__always) static var reduceHighest: Self { .max }
    @inline(__always) static func reduceAdd(_ a: Self, _ b: Self) -> Self { a &+ b }
    @inline(__always) static func reduceMul(_ a: Self, _ b: Self) -> Self { a &* b }
    @inline(__always) static func reduceAbs(_ a: Self) -> Self { a < 0 ? 0 &- a : a }
    @inline(__always) static func reduceMax(_ acc: Self, _ x: Self) -> Self { x > acc ? x : acc }
    @inline(__always) static func reduceMin(_ acc: Self, _ x: Self) -> Self { x < acc ? x : acc }
    @inline(__always) static func reduceDivide(_ a: Self, by n: Int) -> Self { n == 0 ? 0 : a / Self(truncatingIfNeeded: n) }
}

extension ReduceElement where Self: NormFloat {
    @inline(__always) static var reduceZero: Self { 0 }
    @inline(__always) static var reduceOne: Self { 1 }
    @inline(__always) static var reduceLowest: Self { -.infinity }
    @inline(__always) static var reduceHighest: Self { .infinity }
    @inline(__always) static func reduceAdd(_ a: Self, _ b: Self) -> Self { a + b }
    @inline(__always) static func reduceMul(_ a: Self, _ b: Self) -> Self { a * b }
    @inline(__always) static func reduceAbs(_ a: Self) -> Self { abs(a) }
    @inline(__always) static func reduceMax(_ acc: Self, _ x: Self) -> Self { x > acc || x != x ? x : acc }
    @inline(__always) static func reduceMin(_ acc: Self, _ x: Self) -> Self { x < acc || x != x ? x : acc }
    @inline(__always) static func reduceDivide(_ a: Self, by n: Int) -> Self { a / Self(n) }
}

extension Float: ReduceElement {}
extension Double: ReduceElement {}
extension Int64: ReduceElement {}
extension Int32: ReduceElement {}
extension Int8: ReduceElement {}
extension UInt8: ReduceElement {}

enum ReduceOp: Sendable { case sum, mean, prod, max, min, l1, l2, logSum, logSumExp, sumSquare }

/// Element types the reductions are specialized for (bool is stored as 0/1 bytes).
enum ReduceKind: Sendable {
    case float, double, int64, int32, int8, uint8, bool

    init?(_ t: DataType) {
        switch t {
        case .float: self = .float
        case .double: self = .double
        case .int64: self = .int64
        case .int32: self = .int32
        case .int8: self = .int8
        case .uint8: self = .uint8
        case .bool: self = .bool
        default: return nil
        }
    }

    var isFloating: Bool { self == .float || self == .double }
    var elementSize: Int {
        switch self {
        case .double, .int64: return 8
        case .float, .int32: return 4
        case .int8, .uint8, .bool: return 1
        }
    }
}

/// Fills `count` elements with `value`.
@inline(__always)
func reduceFill<T>(_ p: UnsafeMutablePointer<T>, _ count: Int, _ value: T) {
    for i in 0..<count { p[i] = value }
}

/// Folds every input element into its output element: `out = f(out, x)`.
@inline(__always)
func reduceAccumulate<T>(_ plan: ReducePlan, _ x: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, _ f: (T, T) -> T) {
    let n = plan.rowLength
    if plan.innerReduced {
        plan.forEachRow { r, o in
            let row = x + r
            var acc = out[o]
            for i in 0..<n { acc = f(acc, row[i]) }
            out[o] = acc
        }
    } else {
        plan.forEachRow { r, o in
            let row = x + r, w = out + o
            for i in 0..<n { w[i] = f(w[i], row[i]) }
        }
    }
}

final class ReduceKernel: Kernel, @unchecked Sendable {
    let op: ReduceOp
    let kind: ReduceKind
    let x: TensorBuffer, y: TensorBuffer
    let plan: ReducePlan
    /// outCount doubles (the sums of the floating-point reductions).
    let scratch: UnsafeMutableRawPointer

    init(op: ReduceOp, kind: ReduceKind, x: TensorBuffer, y: TensorBuffer, plan: ReducePlan, scratch: UnsafeMutableRawPointer) {
        self.op = op; self.kind = kind; self.x = x; self.y = y; self.plan = plan; self.scratch = scratch
    }

    override func run() {
        switch kind {
        case .float: floating(Float.self)
        case .double: floating(Double.self)
        case .int64: numeric(Int64.self)
        case .int32: numeric(Int32.self)
        case .int8: numeric(Int8.self)
        case .uint8: numeric(UInt8.self)
        case .bool: numeric(UInt8.self, bool: true)
        }
    }

    /// Operations shared by every element type. Returns false for float-only operations.
    @inline(__always)
    @discardableResult
    func numeric<T: ReduceElement>(_: T.Type, bool: Bool = false) -> Bool {
        let px = UnsafePointer(x.data.assumingMemoryBound(to: T.self))
        let py = y.data.assumingMemoryBound(to: T.self)
        let count = plan.outCount
        switch op {
        case .sum, .mean:
            reduceFill(py, count, T.reduceZero)
            reduceAccumulate(plan, px, py, T.reduceAdd)
            if op == .mean {
                let n = plan.reduceCount
                for i in 0..<count { py[i] = T.reduceDivide(py[i], by: n) }
            }
        case .prod:
            reduceFill(py, count, T.reduceOne)
            reduceAccumulate(plan, px, py, T.reduceMul)
        case .max:
            reduceFill(py, count, bool ? T.reduceZero : T.reduceLowest)
            reduceAccumulate(plan, px, py, T.reduceMax)
        case .min:
            reduceFill(py, count, bool ? T.reduceOne : T.reduceHighest)
            reduceAccumulate(plan, px, py, T.reduceMin)
        case .l1:
            reduceFill(py, count, T.reduceZero)
            reduceAccumulate(plan, px, py) { T.reduceAdd($0, T.reduceAbs($1)) }
        case .sumSquare:
            reduceFill(py, count, T.reduceZero)
            reduceAccumulate(plan, px, py) { T.reduceAdd($0, T.reduceMul($1, $1)) }
        case .l2, .logSum, .logSumExp:
            return false
        }
        return true
    }

    @inline(__always)
    func floating<T: ReduceElement & NormFloat>(_: T.Type) {
        let px = UnsafePointer(x.data.assumingMemoryBound(to: T.self))
        let py = y.data.assumingMemoryBound(to: T.self)
        let count = plan.outCount
        // Sums accumulate in double (scratch), whatever the element type.
        let sums = scratch.assumingMemoryBound(to: Double.self)
        switch op {
        case .prod, .max, .min:
            numeric(T.self)
            return
        case .sum, .mean, .logSum:
            reduceFill(sums, count, 0)
            reduceAccumulateDouble(plan, px, sums) { Double($0) }
        case .l1:
            reduceFill(sums, count, 0)
            reduceAccumulateDouble(plan, px, sums) { Double(abs($0)) }
        case .l2, .sumSquare:
            reduceFill(sums, count, 0)
            reduceAccumulateDouble(plan, px, sums) { let v = Double($0); return v * v }
        case .logSumExp:
            // Pass 1: the maximum becomes the shift (0 where it is not finite, so that infinities
            // and empty sets come out as +-inf rather than NaN). Pass 2: sum of exp(x - shift).
            reduceFill(py, count, -.infinity)
            reduceAccumulate(plan, px, py, T.reduceMax)
            for i in 0..<count where !py[i].isFinite { py[i] = 0 }
            reduceFill(sums, count, 0)
            let n = plan.rowLength
            if plan.innerReduced {
                plan.forEachRow { r, o in
                    let row = px + r, shift = py[o]
                    var acc = 0.0
                    for i in 0..<n { acc += Double(T.nExp(row[i] - shift)) }
                    sums[o] += acc
                }
            } else {
                plan.forEachRow { r, o in
                    let row = px + r, shift = py + o, w = sums + o
                    for i in 0..<n { w[i] += Double(T.nExp(row[i] - shift[i])) }
                }
            }
            for i in 0..<count { py[i] = T(Double.nLog(sums[i])) + py[i] }
            return
        }
        switch op {
        case .mean:
            let inverse = 1 / Double(plan.reduceCount)
            for i in 0..<count { py[i] = T(sums[i] * inverse) }
        case .l2:
            for i in 0..<count { py[i] = T(sums[i].squareRoot()) }
        case .logSum:
            for i in 0..<count { py[i] = T(Double.nLog(sums[i])) }
        default:
            for i in 0..<count { py[i] = T(sums[i]) }
        }
    }
}

/// Folds every input element, mapped to double, into its double accumulator: `acc += map(x)`.
/// Rows that fold into one element are summed with four independent partial sums.
@inline(__always)
func reduceAccumulateDouble<T>(_ plan: ReducePlan, _ x: UnsafePointer<T>, _ acc: UnsafeMutablePointer<Double>,
                               _ map: (T) -> Double) {
    let n = plan.rowLength
    if plan.innerReduced {
        plan.forEachRow { r, o in
            let row = x + r
            var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
            var i = 0
            while i + 4 <= n {
                s0 += map(row[i]); s1 += map(row[i + 1]); s2 += map(row[i + 2]); s3 += map(row[i + 3])
                i += 4
            }
            while i < n { s0 += map(row[i]); i += 1 }
            acc[o] += (s0 + s1) + (s2 + s3)
        }
    } else {
        plan.forEachRow { r, o in
            let row = x + r, w = acc + o
            for i in 0..<n { w[i] += map(row[i]) }
        }
    }
}

func makeReduce(_ op: ReduceOp, axesInputSince: Int) -> @Sendable (inout NodeContext) throws(RuntimeError) -> Kernel? {
    return { (ctx: inout NodeContext) throws(RuntimeError) -> Kernel? in
        let x = try ctx.input(0)
        guard let kind = ReduceKind(x.dataType) else {
            throw ctx.unsupported("element type \(x.dataType) is not supported")
        }
        switch op {
        case .max, .min: break
        case .l2, .logSum, .logSumExp:
            guard kind.isFloating else { throw ctx.unsupported("element type \(x.dataType) is not supported (float32, float64)") }
        default:
            guard kind != .bool && kind != .int8 && kind != .uint8 else {
                throw ctx.unsupported("element type \(x.dataType) is not supported (float32, float64, int32, int64)")
            }
        }
        let rank = x.shape.count
        let keepDims = try ctx.int("keepdims", default: 1) != 0
        var axes: [Int]
        var noop = false
        if ctx.opset >= axesInputSince {
            if ctx.has("axes") {
                throw ctx.error("from opset \(axesInputSince), axes are given as input 1, not as an attribute")
            }
            axes = ctx.optionalInput(1) == nil ? [] : try ctx.constantInts(1)
            noop = try ctx.int("noop_with_empty_axes", default: 0) != 0
        } else {
            if ctx.optionalInput(1) != nil {
                throw ctx.error("before opset \(axesInputSince), axes are an attribute; the node has a second input")
            }
            axes = ctx.ints("axes") ?? []
        }
        var reduced = [Bool](repeating: axes.isEmpty && !noop, count: rank)
        for a in axes {
            let d = try ctx.normResolveAxis(a, rank: rank, what: "axis")
            guard !reduced[d] else { throw ctx.error("axis \(a) appears twice in \(axes)") }
            reduced[d] = true
        }
        if !reduced.contains(true) && (op == .sum || op == .mean || op == .prod || op == .max || op == .min || op == .logSumExp) {
            // Nothing to reduce and the per-element map is the identity.
            try ctx.aliasOutput(0, of: x, shape: x.shape)
            return nil
        }
        var outShape: [Int] = []
        for d in 0..<rank {
            if !reduced[d] { outShape.append(x.shape[d]) } else if keepDims { outShape.append(1) }
        }
        let y = try ctx.output(0, x.dataType, outShape)
        let plan = ctx.normReducePlan(shape: x.shape, reduced: reduced)
        let scratch = ctx.workspace(bytes: kind.isFloating ? plan.outCount * 8 : 0)
        return ReduceKernel(op: op, kind: kind, x: x, y: y, plan: plan, scratch: scratch)
    }
}

extension Operators {
    static let reduceSum = OperatorDefinition("ReduceSum", since: 1, makeReduce(.sum, axesInputSince: 13))
    static let reduceMean = OperatorDefinition("ReduceMean", since: 1, makeReduce(.mean, axesInputSince: 18))
    static let reduceProd = OperatorDefinition("ReduceProd", since: 1, makeReduce(.prod, axesInputSince: 18))
    static let reduceMax = OperatorDefinition("ReduceMax", since: 1, makeReduce(.max, axesInputSince: 18))
    static let reduceMin = OperatorDefinition("ReduceMin", since: 1, makeReduce(.min, axesInputSince: 18))
    static let reduceL1 = OperatorDefinition("ReduceL1", since: 1, makeReduce(.l1, axesInputSince: 18))
    static let reduceL2 = OperatorDefinition("ReduceL2", since: 1, makeReduce(.l2, axesInputSince: 18))
    static let reduceLogSum = OperatorDefinition("ReduceLogSum", since: 1, makeReduce(.logSum, axesInputSince: 18))
    static let reduceLogSumExp = OperatorDefinition("ReduceLogSumExp", since: 1, makeReduce(.logSumExp, axesInputSince: 18))
    static let reduceSumSquare = OperatorDefinition("ReduceSumSquare", since: 1, makeReduce(.sumSquare, axesInputSince: 18))
}
