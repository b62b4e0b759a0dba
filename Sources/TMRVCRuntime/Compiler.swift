import ONNXFormat

/// Load-time compilation: shapes, constant folding, kernels, memory plan.
enum Compiler {
    struct Result {
        var inputs: [TensorBuffer]
        var outputs: [TensorBuffer]
        var plan: [Kernel]
        /// Op type and node name of each plan entry (profiling).
        var planLabels: [(opType: String, node: String)]
        /// Estimated work of each plan entry (``Kernel/workEstimate``, else output elements),
        /// for incremental runs.
        var planCosts: [Int]
        var slowPlan: [Kernel]
        /// Per `slowPlan` entry: the bits (`slowInputBits`) of the slow inputs it depends on.
        var slowPlanMasks: [UInt64]
        /// Estimated work of each `slowPlan` entry (as `planCosts`), for staged updates.
        var slowPlanCosts: [Int]
        /// Hoisted buffers that the per-run plan reads, each with two spare copies (staged updates).
        var slowBoundaries: [SlowBoundary]
        /// Per `slowPlan` entry: indices into `slowBoundaries` of the buffers it writes.
        var slowPlanBoundaryWrites: [[Int]]
        /// Bit of each slow input, by input index (inputs that are not slow have none).
        var slowInputBits: [Int: UInt64]
        var memory: OwnedMemory
        var statistics: SessionStatistics
        var dependentAliases: [ObjectIdentifier: [TensorBuffer]]
    }

    /// A hoisted buffer that per-run kernels read: while a staged update
    /// (`InferenceSession.invalidateSlowInput(_:spreadOver:)`) is under way, `saved` holds the
    /// value the per-run kernels keep seeing and `staged` the new value computed so far.
    struct SlowBoundary {
        var buffer: TensorBuffer
        var saved: UnsafeMutableRawPointer
        var staged: UnsafeMutableRawPointer
    }

    /// One run-time step with the buffers it touches (for liveness).
    struct Step {
        var kernel: Kernel
        var reads: [TensorBuffer]
        var writes: [TensorBuffer]
        var opType = ""
        var node = ""
    }

    static func compile(graph: Graph, options: SessionOptions) throws(RuntimeError) -> Result {
        let memory = OwnedMemory(limit: options.maxMemoryBytes)
        var stats = SessionStatistics()
        stats.nodeCount = graph.nodes.count
        var buffers = [TensorBuffer?](repeating: nil, count: graph.valueCount)
        let file = graph.file

        for name in Array(options.inputShapes.keys) + Array(options.constantInputs.keys) where !graph.inputs.contains(where: { graph.valueNames[$0] == name }) {
            throw RuntimeError(.binding, "\(file): inputShapes names '\(name)', which is not a graph input")
        }

        // Inputs.
        var inputs: [TensorBuffer] = []
        for (k, v) in graph.inputs.enumerated() {
            let info = graph.inputInfo[k]
            let name = graph.valueNames[v]
            if let fixed = options.constantInputs[name] {
                guard fixed.dataType == info.elementType || info.elementType == .undefined else {
                    throw RuntimeError(.binding, "\(file): constant input '\(name)' is \(info.elementType), given \(fixed.dataType)")
                }
                let b = TensorBuffer(name: name, dataType: fixed.dataType, shape: fixed.shape, role: .constant)
                b.data = try memory.allocate(bytes: b.byteCount, file: file)
                fixed.bytes.withUnsafeBytes { if let src = $0.baseAddress { b.data.copyMemory(from: src, byteCount: $0.count) } }
                buffers[v] = b
                continue
            }
            guard info.elementType.byteSize != nil else {
                throw RuntimeError(.unsupported, "\(file): input '\(name)' has unsupported type \(info.elementType)")
            }
            var shape: [Int]
            if let given = options.inputShapes[name] {
                shape = given
                if let declared = info.shape {
                    guard declared.count == given.count else {
                        throw RuntimeError(.binding, "\(file): input '\(name)' has rank \(declared.count) (\(declared)), given shape \(given)")
                    }
                    for (d, g) in zip(declared, given) {
                        if case .value(let fixed) = d, fixed != g {
                            throw RuntimeError(.binding, "\(file): input '\(name)' is declared \(declared), given shape \(given)")
                        }
                    }
                }
            } else {
                guard let declared = info.shape else {
                    throw RuntimeError(.binding, "\(file): input '\(name)' declares no shape; pass one in SessionOptions.inputShapes")
                }
                shape = []
                for d in declared {
                    guard case .value(let fixed) = d else {
                        throw RuntimeError(.binding, "\(file): input '\(name)' has symbolic shape \(declared); pass a concrete shape in SessionOptions.inputShapes")
                    }
                    shape.append(fixed)
                }
            }
            for d in shape where d < 0 { throw RuntimeError(.binding, "\(file): input '\(name)' shape \(shape) has a negative dimension") }
            guard CompileLimits.elementCount(shape) != nil else {
                throw RuntimeError(.shape, "\(file): input '\(name)' shape \(shape) has more than \(options.maxTensorElements) elements")
            }
            let b = TensorBuffer(name: name, dataType: info.elementType, shape: shape, role: .input)
            b.data = try memory.allocate(bytes: b.byteCount, file: file)
            buffers[v] = b
            inputs.append(b)
        }

        // Initializers.
        for (v, t) in graph.initializers {
            guard let size = t.dataType.byteSize else {
                throw RuntimeError(.unsupported, "\(file): initializer '\(t.name)' has unsupported type \(t.dataType)")
            }
            guard CompileLimits.elementCount(t.dims) != nil else {
                throw RuntimeError(.shape, "\(file): initializer '\(t.name)' shape \(t.dims) has more than \(options.maxTensorElements) elements")
            }
            let b = TensorBuffer(name: t.name, dataType: t.dataType, shape: t.dims, role: .constant)
            stats.constantBytes += b.byteCount
            if t.dataType == .float { stats.parameterCount += b.count }
            var zeroCopy = false
            if case .mapped(let mf, let offset, _) = t.storage {
                let address = mf.bytes + offset
                if Int(bitPattern: address) % max(size, 4) == 0 {
                    b.data = UnsafeMutableRawPointer(mutating: address)
                    zeroCopy = true
                }
            }
            if !zeroCopy {
                b.data = try memory.allocate(bytes: b.byteCount, file: file)
                t.withBytes { raw in
                    if let src = raw.baseAddress, raw.count > 0 { b.data.copyMemory(from: src, byteCount: min(raw.count, b.byteCount)) }
                }
            }
            buffers[v] = b
        }

        // Nodes.
        var steps: [Step] = []
        var slowSteps: [Kernel] = []
        var slowStepMasks: [UInt64] = []
        var slowStepWrites: [[TensorBuffer]] = []
        // Buffers that change only when a slow input changes (hoisted out of the per-run plan),
        // with the bit mask of the slow inputs each one depends on: invalidating one slow input
        // re-runs only the hoisted nodes that read it (directly or through other hoisted nodes).
        var slow: [ObjectIdentifier: UInt64] = [:]
        var slowInputBits: [Int: UInt64] = [:]
        for name in options.slowInputs where !graph.inputs.contains(where: { graph.valueNames[$0] == name }) {
            throw RuntimeError(.binding, "\(file): slowInputs names '\(name)', which is not a graph input")
        }
        for (i, b) in inputs.enumerated() where options.slowInputs.contains(b.name) {
            guard slowInputBits.count < 64 else {
                throw RuntimeError(.binding, "\(file): more than 64 slow inputs")
            }
            let bit = UInt64(1) << UInt64(slowInputBits.count)
            slowInputBits[i] = bit
            slow[ObjectIdentifier(b)] = bit
        }
        func slowMask(_ b: TensorBuffer) -> UInt64 {
            if let m = slow[ObjectIdentifier(b)] { return m }
            if b.role == .alias, let r = b.aliasOf, let m = slow[ObjectIdentifier(r)] { return m }
            return 0
        }
        func isSlow(_ b: TensorBuffer) -> Bool { slowMask(b) != 0 }
        let fusion = FusionPlanner(graph: graph)
        var absorbed = Set<Int>()
        for (nodeIndex, node) in graph.nodes.enumerated() {
            stats.opHistogram[node.opType, default: 0] += 1
            if absorbed.contains(nodeIndex) { continue }
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw RuntimeError(.unsupported, "\(file): node '\(node.name)': op '\(node.opType)' of domain '\(node.domain)' (opset \(graph.opset)) is not supported")
            }
            guard let def = OperatorRegistry.definitions[node.opType] else {
                throw RuntimeError(.unsupported, "\(file): node '\(node.name)': op '\(node.opType)' (opset \(graph.opset)) is not supported")
            }
            guard graph.opset >= def.sinceVersion else {
                throw RuntimeError(.unsupported, "\(file): node '\(node.name)': op '\(node.opType)' is implemented from opset \(def.sinceVersion), the model uses opset \(graph.opset)")
            }
            let nodeIns = node.inputs.map { $0 >= 0 ? buffers[$0] : nil }
            // MatMul+Add+Gelu style chains become one kernel writing the chain's last output;
            // Concat+Conv+Slice (streaming causal depthwise conv) one kernel with two outputs.
            let fused = fusion.plan(at: nodeIndex, inputs: nodeIns) { buffers[$0] }
            let ins = fused?.inputs.map { $0.map { $0 >= 0 ? buffers[$0] : nil } } ?? nodeIns
            let nodeOutputs = fused?.outputs ?? node.outputs
            var ctx = NodeContext(node: node, opset: graph.opset, file: file, inputs: ins,
                                  outputs: [TensorBuffer?](repeating: nil, count: nodeOutputs.count),
                                  outputNames: nodeOutputs.map { $0 >= 0 ? graph.valueNames[$0] : "" },
                                  memory: memory)
            ctx.weightStorage = options.weightStorage
            if let fused {
                ctx.epilogue = fused.epilogue
                ctx.causalDepthwise = fused.causal
                absorbed.formUnion(fused.absorbed)
            }
            let kernel = fused?.causal != nil ? try makeCausalDepthwiseStep(&ctx) : try def.factory(&ctx)
            guard memory.totalBytes <= options.maxMemoryBytes else {
                throw RuntimeError(.shape, "\(file): node '\(node.name)' (\(node.opType)): the session needs more than \(options.maxMemoryBytes) bytes")
            }
            for (k, v) in nodeOutputs.enumerated() where v >= 0 {
                guard let b = ctx.outputs[k] else {
                    throw RuntimeError(.unsupported, "\(file): node '\(node.name)' (\(node.opType)): output \(k) is not produced by this implementation")
                }
                buffers[v] = b
            }
            let written = ctx.outputs.compactMap { $0 }
            if written.contains(where: { $0.role == .alias }) && kernel == nil { stats.aliasNodeCount += 1 }
            let read = ins.compactMap { $0 }
            guard let kernel else {
                for b in written where b.role == .alias {
                    if let r = b.aliasOf, isSlow(r) { slow[ObjectIdentifier(b)] = slowMask(r) }
                }
                continue
            }
            if options.foldConstants && def.deterministic && read.allSatisfy({ $0.isConstant }) {
                for b in written where b.role == .intermediate {
                    b.role = .constant
                    b.data = try memory.allocate(bytes: b.byteCount, file: file)
                    stats.constantBytes += b.byteCount
                }
                for b in written where b.role == .alias { b.data = b.aliasOf!.data }
                guard memory.totalBytes <= options.maxMemoryBytes else {
                    throw RuntimeError(.shape, "\(file): node '\(node.name)' (\(node.opType)): folding needs more than \(options.maxMemoryBytes) bytes")
                }
                kernel.run()
                stats.foldedNodeCount += 1
                continue
            }
            if read.allSatisfy({ $0.isConstant || isSlow($0) }) && read.contains(where: isSlow) {
                // Depends only on constants and slow inputs: runs once per change of one of
                // those slow inputs, into storage of its own that persists across runs.
                let mask = read.reduce(UInt64(0)) { $0 | slowMask($1) }
                for b in written {
                    slow[ObjectIdentifier(b)] = mask
                    if b.role == .intermediate { b.data = try memory.allocate(bytes: b.byteCount, file: file) }
                }
                slowSteps.append(kernel)
                slowStepMasks.append(mask)
                slowStepWrites.append(written)
                stats.hoistedNodeCount += 1
                continue
            }
            steps.append(Step(kernel: kernel, reads: read, writes: written, opType: fused?.label ?? node.opType, node: node.name))
        }

        // Outputs: dedicated storage; copies for outputs that are inputs, constants, aliases or repeated.
        var outputs: [TensorBuffer] = []
        var seen = Set<ObjectIdentifier>()
        for v in graph.outputs {
            guard let b = buffers[v] else { throw RuntimeError(.invalidGraph, "\(file): output '\(graph.valueNames[v])' has no value") }
            if b.role == .intermediate && !seen.contains(ObjectIdentifier(b)) && !isSlow(b) {
                b.role = .output
                b.data = try memory.allocate(bytes: b.byteCount, file: file)
                outputs.append(b)
            } else {
                let out = TensorBuffer(name: graph.valueNames[v], dataType: b.dataType, shape: b.shape, role: .output)
                out.data = try memory.allocate(bytes: out.byteCount, file: file)
                steps.append(Step(kernel: CopyKernel(from: b, to: out), reads: [b], writes: [out], opType: "(output copy)", node: out.name))
                outputs.append(out)
            }
            seen.insert(ObjectIdentifier(outputs.last!))
        }

        // Liveness of intermediates (aliases extend their root's life).
        func root(_ b: TensorBuffer) -> TensorBuffer { b.role == .alias ? (b.aliasOf ?? b) : b }
        var first: [ObjectIdentifier: Int] = [:]
        var last: [ObjectIdentifier: Int] = [:]
        var planned: [TensorBuffer] = []
        for (s, step) in steps.enumerated() {
            for b in step.writes + step.reads {
                let r = root(b)
                let id = ObjectIdentifier(r)
                guard r.role == .intermediate, slow[id] == nil else { continue }
                if first[id] == nil { first[id] = s; planned.append(r) }
                last[id] = s
            }
        }
        // Greedy placement, largest first, lowest non-conflicting offset.
        let alignment = 64
        var placed: [(offset: Int, size: Int, first: Int, last: Int)] = []
        var offsets: [ObjectIdentifier: Int] = [:]
        var arenaBytes = 0
        for b in planned.sorted(by: { $0.byteCount > $1.byteCount }) {
            let id = ObjectIdentifier(b)
            let size = (b.byteCount + alignment - 1) / alignment * alignment
            let (f, l) = (first[id]!, last[id]!)
            let conflicts = placed.filter { !($0.last < f || l < $0.first) }.sorted { $0.offset < $1.offset }
            var offset = 0
            for c in conflicts {
                if offset + size <= c.offset { break }
                offset = max(offset, c.offset + c.size)
            }
            placed.append((offset, size, f, l))
            offsets[id] = offset
            arenaBytes = max(arenaBytes, offset + size)
            stats.unplannedBytes += size
        }
        guard memory.totalBytes + arenaBytes <= options.maxMemoryBytes else {
            throw RuntimeError(.shape, "\(file): the session needs \(memory.totalBytes + arenaBytes) bytes, more than \(options.maxMemoryBytes)")
        }
        let arena = try memory.allocate(bytes: arenaBytes, file: file)
        for b in planned { b.data = arena + offsets[ObjectIdentifier(b)]! }
        stats.arenaBytes = arenaBytes

        // Aliases follow their roots; remember which aliases hang off rebindable buffers.
        var dependents: [ObjectIdentifier: [TensorBuffer]] = [:]
        for b in buffers.compactMap({ $0 }) where b.role == .alias {
            let r = root(b)
            b.data = r.data
            if r.role == .input || r.role == .output { dependents[ObjectIdentifier(r), default: []].append(b) }
        }
        // Hoisted buffers read by the per-run plan (directly or through an alias): the values
        // a staged update must keep unchanged for `run()` until it completes.
        var boundaryIndex: [ObjectIdentifier: Int] = [:]
        var boundaries: [SlowBoundary] = []
        let slowWritten = Set(slowStepWrites.joined().map { ObjectIdentifier(root($0)) })
        for step in steps {
            for b in step.reads {
                let r = root(b)
                let id = ObjectIdentifier(r)
                guard slowWritten.contains(id), boundaryIndex[id] == nil else { continue }
                boundaryIndex[id] = boundaries.count
                let spare = try memory.allocate(bytes: 2 * r.byteCount, file: file)
                boundaries.append(SlowBoundary(buffer: r, saved: spare, staged: spare + r.byteCount))
            }
        }
        let boundaryWrites = slowStepWrites.map { written in
            Array(Set(written.compactMap { boundaryIndex[ObjectIdentifier(root($0))] })).sorted()
        }
        guard memory.totalBytes <= options.maxMemoryBytes else {
            throw RuntimeError(.shape, "\(file): the session needs \(memory.totalBytes) bytes, more than \(options.maxMemoryBytes)")
        }
        stats.kernelCount = steps.count
        var constantsRead = Set<ObjectIdentifier>()
        for step in steps {
            for b in step.reads where b.isConstant {
                let r = root(b)
                if constantsRead.insert(ObjectIdentifier(r)).inserted { stats.perRunConstantBytes += r.byteCount }
            }
        }
        return Result(inputs: inputs, outputs: outputs, plan: steps.map { $0.kernel },
                      planLabels: steps.map { ($0.opType, $0.node) },
                      planCosts: steps.map { $0.kernel.workEstimate ?? max(1, $0.writes.reduce(0) { $0 + $1.count }) },
                      slowPlan: slowSteps, slowPlanMasks: slowStepMasks,
                      slowPlanCosts: zip(slowSteps, slowStepWrites).map { $0.workEstimate ?? max(1, $1.reduce(0) { $0 + $1.count }) },
                      slowBoundaries: boundaries, slowPlanBoundaryWrites: boundaryWrites,
                      slowInputBits: slowInputBits, memory: memory,
                      statistics: stats, dependentAliases: dependents)
    }
}
