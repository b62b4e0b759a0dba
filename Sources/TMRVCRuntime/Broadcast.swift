/// Numpy-style multidirectional broadcasting, resolved at load into per-row offsets so that
/// the run-time loop is a flat inner loop per row with no index arithmetic.
public struct BroadcastPlan: Sendable {
    /// Result shape.
    public let outputShape: [Int]
    /// Elements in the innermost (coalesced) row.
    public let rowLength: Int
    /// Number of rows.
    public let rowCount: Int
    /// For each operand: start offset of each row.
    public let rowOffsets: [[Int]]
    /// For each operand: element stride within a row (0 = broadcast, 1 = contiguous).
    public let rowStrides: [Int]

    /// The broadcast result shape of `shapes`, or nil when they are incompatible.
    public static func resultShape(_ shapes: [[Int]]) -> [Int]? {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for s in shapes {
            let pad = rank - s.count
            for (i, d) in s.enumerated() {
                let o = out[pad + i]
                if o == d || d == 1 { continue }
                if o == 1 { out[pad + i] = d; continue }
                return nil
            }
        }
        return out
    }

    /// Plans broadcasting of `shapes` to their common shape (or to `target`, for Expand).
    public init?(_ shapes: [[Int]], target: [Int]? = nil) {
        guard var out = BroadcastPlan.resultShape(shapes + (target.map { [$0] } ?? [])) else { return nil }
        if let target, target.count > out.count { out = target }
        // Refuse results beyond the compile limit before planning per-row offsets for them.
        guard CompileLimits.elementCount(out) != nil else { return nil }
        outputShape = out
        let rank = out.count
        // Per-operand strides in the output index space (0 where broadcast).
        var strides: [[Int]] = []
        for s in shapes {
            let padded = [Int](repeating: 1, count: rank - s.count) + s
            var st = [Int](repeating: 0, count: rank)
            var acc = 1
            for i in stride(from: rank - 1, through: 0, by: -1) {
                st[i] = padded[i] == 1 ? 0 : acc
                acc *= padded[i]
            }
            strides.append(st)
        }
        // Coalesce the innermost dims while each operand stays all-contiguous or all-broadcast.
        var inner = 1
        var split = rank
        var kinds: [Bool]? = nil   // per operand: true = contiguous within the row
        while split > 0 {
            let d = split - 1
            if out[d] == 1 { split -= 1; continue }
            let here = strides.map { $0[d] != 0 }
            if let kinds, kinds != here { break }
            kinds = here
            inner *= out[d]
            split -= 1
        }
        rowLength = inner
        let total = out.reduce(1, *)
        rowCount = inner == 0 ? 0 : total / inner
        rowStrides = (kinds ?? [Bool](repeating: false, count: shapes.count)).map { $0 ? 1 : 0 }
        var offsets = [[Int]](repeating: [], count: shapes.count)
        for k in 0..<shapes.count { offsets[k].reserveCapacity(rowCount) }
        var index = [Int](repeating: 0, count: split)
        for _ in 0..<rowCount {
            for k in 0..<shapes.count {
                var o = 0
                for i in 0..<split { o += index[i] * strides[k][i] }
                offsets[k].append(o)
            }
            var i = split - 1
            while i >= 0 {
                index[i] += 1
                if index[i] < out[i] { break }
                index[i] = 0
                i -= 1
            }
        }
        rowOffsets = offsets
    }
}
