import CTMRVCSupport
import ONNXFormat

/// How constant float32 weights of MatMul, Gemm and Conv are stored.
public enum WeightStorage: Sendable, Equatable {
    /// As given (float32).
    case float32
    /// Rounded to float16 at load (half the bytes, so about half the memory traffic of the
    /// per-frame matrix-vector products); products still accumulate in float32. Accuracy: see
    /// docs/performance.md (errors around 1e-3 instead of 1e-6).
    case float16
    /// Symmetric int8 per output channel, quantised at load: each output row n of W keeps
    /// q[n, k] = round(W[n, k] / s[n]) in -127...127 with s[n] = max_k |W[n, k]| / 127, a quarter
    /// of the float32 bytes. The kernels dequantise in registers and accumulate in float32
    /// (y = s * sum_k q x + bias). Accuracy: docs/performance.md.
    case int8

    /// Bytes per stored weight.
    public var bytesPerWeight: Int {
        switch self {
        case .float32: return 4
        case .float16: return 2
        case .int8: return 1
        }
    }

    /// Short name: "fp32", "fp16", "int8" (command-line values, benchmark labels).
    public var label: String {
        switch self {
        case .float32: return "fp32"
        case .float16: return "fp16"
        case .int8: return "int8"
        }
    }

    /// The storage named by `label`, or nil.
    public init?(label: String) {
        switch label {
        case "fp32": self = .float32
        case "fp16": self = .float16
        case "int8": self = .int8
        default: return nil
        }
    }
}

/// Options fixed when a session is created.
public struct SessionOptions: Sendable {
    /// Concrete shapes for inputs whose declared shape has symbolic or unknown dimensions
    /// (e.g. `["mel": [1, 80, 1]]`). Inputs with fully static declared shapes need no entry.
    public var inputShapes: [String: [Int]]
    /// Inputs whose values are fixed for the session's lifetime (e.g. shape tensors fed as
    /// inputs). They become load-time constants, take part in folding, and are no longer inputs.
    public var constantInputs: [String: Tensor]
    /// Inputs that change rarely (speaker embedding, LoRA delta, acoustic parameters). Nodes that
    /// depend only on these and on constants are hoisted out of `run()`: they run once after
    /// `invalidateSlowInputs()`, not every frame.
    public var slowInputs: Set<String>
    /// Evaluate nodes whose inputs are all known at load time once, at load.
    public var foldConstants: Bool
    /// Most elements any one tensor may have (inputs, initializers, node outputs, broadcast
    /// results). Larger shapes are rejected at load with an error instead of overflowing or
    /// exhausting memory. Default ``defaultMaxTensorElements``.
    public var maxTensorElements: Int
    /// Most bytes the session may allocate at load (constants, folded values, workspaces, arena).
    /// Default ``defaultMaxMemoryBytes``.
    public var maxMemoryBytes: Int

    /// 16M elements (64 MB of float32): the largest initializer of the five TMRVC models has
    /// 393,216 (the converter's `attn.token_proj.weight`, 2048 x 192; `tmrvc inspect`).
    public static let defaultMaxTensorElements = 1 << 24
    /// 1 GiB: the five models' initializers total 25.3 MB in float32 (arenas under 64 KB each),
    /// a 40x margin even counting packed copies; a malformed file declaring huge shapes gets an
    /// error instead of aborting the process. The fuzz target uses these same defaults.
    public static let defaultMaxMemoryBytes = 1 << 30
    /// Storage of the constant weights of MatMul/Gemm/Conv (default float32).
    public var weightStorage: WeightStorage

    public init(inputShapes: [String: [Int]] = [:], constantInputs: [String: Tensor] = [:],
                slowInputs: Set<String> = [], foldConstants: Bool = true,
                maxTensorElements: Int = SessionOptions.defaultMaxTensorElements, maxMemoryBytes: Int = SessionOptions.defaultMaxMemoryBytes,
                weightStorage: WeightStorage = .float32) {
        self.weightStorage = weightStorage
        self.inputShapes = inputShapes
        self.constantInputs = constantInputs
        self.slowInputs = slowInputs
        self.foldConstants = foldConstants
        self.maxTensorElements = maxTensorElements
        self.maxMemoryBytes = maxMemoryBytes
    }
}

/// Limits in force while a model compiles (bound from `SessionOptions` for the duration of
/// `Compiler.compile`, so that shape helpers deep in op factories can check them).
enum CompileLimits {
    @TaskLocal static var maxTensorElements: Int = Int(Int32.max)

    /// The product of `shape`, or nil when a dimension is negative, the product overflows or it
    /// exceeds the current `maxTensorElements`.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = m
        }
        return n <= maxTensorElements ? n : nil
    }
}

/// Load-time facts about a compiled session.
public struct SessionStatistics: Sendable {
    /// Nodes in the graph.
    public var nodeCount = 0
    /// Kernels executed per `run()`.
    public var kernelCount = 0
    /// Nodes evaluated at load time (constant folding).
    public var foldedNodeCount = 0
    /// Nodes hoisted out of the per-run plan because they depend only on slow inputs.
    public var hoistedNodeCount = 0
    /// Nodes that became views of their input (no run-time work).
    public var aliasNodeCount = 0
    /// Bytes of the intermediate-tensor arena.
    public var arenaBytes = 0
    /// Bytes the intermediates would need without reuse.
    public var unplannedBytes = 0
    /// Bytes of constant data (initializers and folded values).
    public var constantBytes = 0
    /// Number of parameters (elements of float initializers).
    public var parameterCount = 0
    /// Bytes of the distinct constant tensors the per-run plan reads (as stored in the model;
    /// mostly weights): what one `run()` must stream through the caches when they are cold.
    public var perRunConstantBytes = 0
    /// Histogram of op types in the graph.
    public var opHistogram: [String: Int] = [:]
}

/// Time spent in one kernel of the per-run plan while profiling was on.
public struct KernelProfile: Sendable {
    /// ONNX op type of the node (or a runtime label such as "(output copy)").
    public var opType: String
    /// Node name.
    public var node: String
    /// Total nanoseconds over `runs` runs.
    public var nanoseconds: UInt64
    /// Profiled runs.
    public var runs: Int
}

/// A model compiled for fixed input shapes. After `init`, `run()` performs no heap allocation,
/// takes no lock and cannot fail: every shape was checked and every buffer placed at load.
public final class InferenceSession: @unchecked Sendable {
    /// The validated graph.
    public let graph: Graph
    /// Graph input buffers in declaration order (write inputs here, or bind your own storage).
    public let inputs: [TensorBuffer]
    /// Graph output buffers in declaration order.
    public let outputs: [TensorBuffer]
    /// Input names, parallel to `inputs`.
    public let inputNames: [String]
    /// Output names, parallel to `outputs`.
    public let outputNames: [String]
    /// Load-time statistics.
    public let statistics: SessionStatistics

    private let plan: [Kernel]
    /// Cumulative estimated work before each plan entry (`plan.count + 1` values), for `runPart`.
    private let planCostPrefix: [Int]
    private let planLabels: [(opType: String, node: String)]
    private let slowPlan: [Kernel]
    private let slowPlanMasks: [UInt64]
    private let slowPlanCosts: [Int]
    private let slowBoundaries: [Compiler.SlowBoundary]
    private let slowPlanBoundaryWrites: [[Int]]
    /// Staged update (`invalidateSlowInput(_:spreadOver:)`): the slow-input bits being
    /// re-evaluated, the number of runs it is spread over (0: none under way), the runs done,
    /// and per boundary whether the update has written it yet.
    private var stagedMask: UInt64 = 0
    private var stagedParts = 0
    private var stagedPartsDone = 0
    private let boundaryUpdated: UnsafeMutablePointer<Bool>
    /// Per input index: its bit in the hoisted nodes' dependency masks (0: not a slow input).
    private let slowInputBits: [UInt64]
    /// Per-kernel nanosecond accumulators (profiling mode), parallel to `plan`.
    private let profileNanoseconds: UnsafeMutablePointer<UInt64>
    private var profiledRuns = 0
    /// When true, `run()` times every kernel of the per-run plan (two clock reads per kernel,
    /// still allocation-free); read the result with `kernelProfile()`. Off by default.
    public var isProfiling = false
    /// Bits of the slow inputs changed since the last run (all set: evaluate every hoisted node).
    private var staleSlowInputs = UInt64.max
    private let memory: OwnedMemory
    private let model: ONNXModel
    private var dependentAliases: [ObjectIdentifier: [TensorBuffer]]

    /// Loads, validates and compiles the model at `path`.
    public convenience init(path: String, options: SessionOptions = SessionOptions()) throws(RuntimeError) {
        let model: ONNXModel
        do { model = try ONNXModel.load(path: path) } catch {
            throw RuntimeError(.format, error.description)
        }
        try self.init(model: model, options: options)
    }

    /// Compiles a decoded model.
    public init(model: ONNXModel, options: SessionOptions = SessionOptions()) throws(RuntimeError) {
        self.model = model
        let graph = try Graph(model: model)
        self.graph = graph
        let result = CompileLimits.$maxTensorElements.withValue(options.maxTensorElements) {
            Result { () throws(RuntimeError) -> Compiler.Result in try Compiler.compile(graph: graph, options: options) }
        }
        let compiled = try result.get()
        self.inputs = compiled.inputs
        self.outputs = compiled.outputs
        self.inputNames = compiled.inputs.map(\.name)
        self.outputNames = graph.outputs.map { graph.valueNames[$0] }
        self.plan = compiled.plan
        self.planLabels = compiled.planLabels
        var prefix = [0]
        for c in compiled.planCosts { prefix.append(prefix.last! + c) }
        self.planCostPrefix = prefix
        self.profileNanoseconds = .allocate(capacity: max(1, compiled.plan.count))
        self.profileNanoseconds.initialize(repeating: 0, count: max(1, compiled.plan.count))
        self.slowPlan = compiled.slowPlan
        self.slowPlanMasks = compiled.slowPlanMasks
        self.slowPlanCosts = compiled.slowPlanCosts
        self.slowBoundaries = compiled.slowBoundaries
        self.slowPlanBoundaryWrites = compiled.slowPlanBoundaryWrites
        self.boundaryUpdated = .allocate(capacity: max(1, compiled.slowBoundaries.count))
        self.boundaryUpdated.initialize(repeating: false, count: max(1, compiled.slowBoundaries.count))
        self.slowInputBits = compiled.inputs.indices.map { compiled.slowInputBits[$0] ?? 0 }
        self.memory = compiled.memory
        self.statistics = compiled.statistics
        self.dependentAliases = compiled.dependentAliases
    }

    /// Runs every kernel once. Real-time safe: no allocation, no locks, no lookups.
    public func run() {
        // Denormals are flushed for the duration of the run (decaying states would otherwise
        // hit the slow subnormal path); the caller's floating-point mode is restored after.
        let fpMode = tmrvc_enable_ftz_daz()
        defer { tmrvc_restore_fp_mode(fpMode) }
        runStaleSlowNodes()
        if isProfiling {
            let acc = profileNanoseconds
            for (i, kernel) in plan.enumerated() {
                let t0 = tmrvc_now_ns()
                kernel.run()
                acc[i] &+= tmrvc_now_ns() &- t0
            }
            profiledRuns += 1
            return
        }
        for kernel in plan { kernel.run() }
    }

    private func runStaleSlowNodes() {
        if staleSlowInputs != 0 {
            if stagedParts > 0 {
                // A plain invalidation during a staged update: one full update covers both.
                staleSlowInputs |= stagedMask
                stagedParts = 0
                stagedMask = 0
            }
            let stale = staleSlowInputs
            for (i, kernel) in slowPlan.enumerated() where slowPlanMasks[i] & stale != 0 { kernel.run() }
            staleSlowInputs = 0
        } else if stagedParts > 0 {
            runStagedPart()
        }
    }

    /// One run's share of a staged update. Between runs the boundary buffers (hoisted values
    /// that per-run kernels read) hold the old values; their new values wait in `staged` and
    /// are put back before the next share runs, so later hoisted kernels read the new ones.
    /// The last share leaves the new values in place.
    private func runStagedPart() {
        let part = stagedPartsDone, parts = stagedParts, mask = stagedMask
        if part == 0 {
            for (j, b) in slowBoundaries.enumerated() {
                b.saved.copyMemory(from: b.buffer.data, byteCount: b.buffer.byteCount)
                boundaryUpdated[j] = false
            }
        } else {
            for (j, b) in slowBoundaries.enumerated() where boundaryUpdated[j] {
                b.buffer.data.copyMemory(from: b.staged, byteCount: b.buffer.byteCount)
            }
        }
        var total = 0
        for i in slowPlan.indices where slowPlanMasks[i] & mask != 0 { total += slowPlanCosts[i] }
        // This share runs the kernels whose cumulative start cost falls in [low, high).
        let low = total * part / parts
        let high = part == parts - 1 ? Int.max : total * (part + 1) / parts
        var start = 0
        for i in slowPlan.indices where slowPlanMasks[i] & mask != 0 {
            if start >= low && start < high {
                slowPlan[i].run()
                for j in slowPlanBoundaryWrites[i] { boundaryUpdated[j] = true }
            }
            start += slowPlanCosts[i]
        }
        stagedPartsDone += 1
        if stagedPartsDone == parts {
            stagedParts = 0
            stagedMask = 0
            return
        }
        for (j, b) in slowBoundaries.enumerated() where boundaryUpdated[j] {
            b.staged.copyMemory(from: b.buffer.data, byteCount: b.buffer.byteCount)
            b.buffer.data.copyMemory(from: b.saved, byteCount: b.buffer.byteCount)
        }
    }

    /// Runs part `part` of `parts` of one run: calling `runPart(0, of: n)`, `runPart(1, of: n)`,
    /// ..., `runPart(n - 1, of: n)` in that order computes exactly what one `run()` does, with the
    /// work spread over the calls in about equal shares of the estimated cost. Large kernels
    /// (im2col convolutions) split between parts; small ones stay whole, so the parts are only
    /// as even as the largest indivisible kernel allows.
    ///
    /// Use it for a model whose result is needed only every few frames (a room-acoustics
    /// estimate): one part per audio callback instead of the whole run in one, which keeps the
    /// worst callback close to the typical one. Between the first and the last part the inputs
    /// must not change and the outputs are incomplete; other sessions may run in between.
    /// Parts of one sequence must not interleave with `run()` or another sequence. Profiling
    /// mode does not time parts. Real-time safe: no allocation, no locks.
    public func runPart(_ part: Int, of parts: Int) {
        precondition(parts >= 1 && part >= 0 && part < parts, "runPart(\(part), of: \(parts))")
        let fpMode = tmrvc_enable_ftz_daz()
        defer { tmrvc_restore_fp_mode(fpMode) }
        if part == 0 { runStaleSlowNodes() }
        forEachPiece(ofPart: part, of: parts) { kernel, pieces in plan[kernel].run(pieces: pieces) }
    }

    /// Calls `body` with each plan entry of part `part` of `parts` and the range of its pieces
    /// that this part runs, in plan order (the schedule of `runPart`).
    @inline(__always)
    private func forEachPiece(ofPart part: Int, of parts: Int, _ body: (Int, Range<Int>) -> Void) {
        let total = planCostPrefix[plan.count]
        // This part runs the pieces whose estimated start falls in [low, high).
        let low = total * part / parts
        let high = part == parts - 1 ? Int.max : total * (part + 1) / parts
        for i in plan.indices {
            let a = planCostPrefix[i], b = planCostPrefix[i + 1]
            if a >= high { break }
            let n = plan[i].pieceCount
            let first = Self.piecesStarting(before: low, start: a, end: b, pieces: n)
            let last = Self.piecesStarting(before: high, start: a, end: b, pieces: n)
            if last > first { body(i, first..<last) }
        }
    }

    /// Pieces of each plan entry (``Kernel/pieceCount``), in plan order.
    var plannedPieceCounts: [Int] { plan.map(\.pieceCount) }

    /// The share of the estimated work that each of `parts` parts of `runPart` runs.
    func estimatedPartShares(parts: Int) -> [Double] {
        let total = Double(max(1, planCostPrefix[plan.count]))
        return (0..<parts).map { part in
            var work = 0.0
            forEachPiece(ofPart: part, of: parts) { i, pieces in
                work += Double(planCostPrefix[i + 1] - planCostPrefix[i]) * Double(pieces.count) / Double(plan[i].pieceCount)
            }
            return work / total
        }
    }

    /// How many of `pieces` equal shares of the cost interval [start, end) start before `limit`
    /// (piece j starts at start + (end - start) * j / pieces, rounded down).
    @inline(__always)
    private static func piecesStarting(before limit: Int, start: Int, end: Int, pieces: Int) -> Int {
        if limit <= start { return 0 }
        if limit >= end || end == start { return pieces }
        let span = end - start
        return min(pieces, ((limit - start) * pieces + span - 1) / span)
    }

    deinit {
        profileNanoseconds.deallocate()
        boundaryUpdated.deallocate()
    }

    /// Per-kernel times accumulated while `isProfiling` was on, in plan order.
    public func kernelProfile() -> [KernelProfile] {
        planLabels.enumerated().map { i, l in
            KernelProfile(opType: l.opType, node: l.node, nanoseconds: profileNanoseconds[i], runs: profiledRuns)
        }
    }

    /// Clears the profiling accumulators.
    public func resetProfile() {
        profileNanoseconds.update(repeating: 0, count: max(1, plan.count))
        profiledRuns = 0
    }

    /// Marks the slow inputs (`SessionOptions.slowInputs`) as changed: the next `run()` first
    /// re-evaluates the nodes hoisted out of the per-run plan. Call it on the thread that calls
    /// `run()`, after writing the new values.
    public func invalidateSlowInputs() { staleSlowInputs = .max }

    /// Marks one slow input (by input index) as changed: the next `run()` re-evaluates only the
    /// hoisted nodes that depend on it. Cheaper than `invalidateSlowInputs()` when, say, the
    /// acoustic parameters change every few frames but the speaker does not. An index that is
    /// not a slow input changes nothing. Real-time safe.
    public func invalidateSlowInput(_ index: Int) {
        if slowInputBits.indices.contains(index) { staleSlowInputs |= slowInputBits[index] }
    }

    /// Marks one slow input (by input index) as changed and spreads the re-evaluation of the
    /// hoisted nodes that depend on it over the next `parts` runs (`run()` or a `runPart`
    /// sequence's first part), in about equal shares of their estimated cost, so that no run
    /// pays for all of it. The outputs keep the previous value of the input through the first
    /// `parts - 1` of those runs and use the new one from the `parts`-th on; the values are
    /// exactly those of `invalidateSlowInput(_:)` followed by the same runs, only later. The
    /// input must keep its new value until then. Another call during the update restarts it
    /// over both inputs; a plain invalidation turns it into one full update on the next run.
    /// `parts` ≤ 1 is `invalidateSlowInput(_:)`. Real-time safe: no allocation, no locks.
    public func invalidateSlowInput(_ index: Int, spreadOver parts: Int) {
        guard parts > 1 else { invalidateSlowInput(index); return }
        guard slowInputBits.indices.contains(index), slowInputBits[index] != 0 else { return }
        stagedMask |= slowInputBits[index]
        stagedParts = parts
        stagedPartsDone = 0
    }

    /// Index of the input with this name.
    public func inputIndex(_ name: String) -> Int? { inputNames.firstIndex(of: name) }

    /// Index of the output with this name.
    public func outputIndex(_ name: String) -> Int? { outputNames.firstIndex(of: name) }

    /// Points input `index` at caller-owned storage of at least `inputs[index].byteCount` bytes,
    /// 16-byte aligned. The caller keeps it alive while the session uses it.
    public func bindInput(_ index: Int, to storage: UnsafeMutableRawPointer) {
        rebind(inputs[index], to: storage)
    }

    /// Points output `index` at caller-owned storage (see `bindInput`).
    public func bindOutput(_ index: Int, to storage: UnsafeMutableRawPointer) {
        rebind(outputs[index], to: storage)
    }

    /// Swaps the storage of a state input and the matching state output, so that the state a
    /// run produced becomes the next run's input without a copy. Real-time safe.
    public func swapState(input: Int, output: Int) {
        let a = inputs[input], b = outputs[output]
        let pa = a.data
        a.data = b.data
        b.data = pa
        if let list = dependentAliases[ObjectIdentifier(a)] { for v in list { v.data = a.data } }
        if let list = dependentAliases[ObjectIdentifier(b)] { for v in list { v.data = b.data } }
    }

    private func rebind(_ buffer: TensorBuffer, to storage: UnsafeMutableRawPointer) {
        buffer.data = storage
        if let list = dependentAliases[ObjectIdentifier(buffer)] { for v in list { v.data = storage } }
    }

    /// Convenient, allocating API: copies `feeds` (by input name; every input required) into the
    /// session, runs, and returns copies of all outputs by name.
    public func run(_ feeds: [String: Tensor]) throws(RuntimeError) -> [String: Tensor] {
        for (i, name) in inputNames.enumerated() {
            guard let t = feeds[name] else { throw RuntimeError(.binding, "\(graph.file): input '\(name)' was not provided") }
            try write(t, toInput: i)
        }
        for name in feeds.keys where inputIndex(name) == nil {
            throw RuntimeError(.binding, "\(graph.file): the model has no input named '\(name)' (inputs: \(inputNames.joined(separator: ", ")))")
        }
        invalidateSlowInputs()
        run()
        var result: [String: Tensor] = [:]
        for (i, name) in outputNames.enumerated() { result[name] = outputs[i].snapshot() }
        return result
    }

    /// Copies a tensor into input `index`, checking type and shape.
    public func write(_ tensor: Tensor, toInput index: Int) throws(RuntimeError) {
        let b = inputs[index]
        guard tensor.dataType == b.dataType, tensor.shape == b.shape else {
            throw RuntimeError(.binding, "\(graph.file): input '\(inputNames[index])' expects \(b.dataType) \(b.shape), got \(tensor.dataType) \(tensor.shape)")
        }
        tensor.bytes.withUnsafeBytes { raw in
            if let src = raw.baseAddress { b.data.copyMemory(from: src, byteCount: raw.count) }
        }
    }
}
