import ONNXFormat

/// Bias and activation the compiler folded into a MatMul, Gemm or Conv node: the node's kernel
/// computes act(product + bias) in one pass and writes the last fused node's output.
struct FusedEpilogue {
    /// Constant bias added along the last output dimension (MatMul + Add), or nil.
    var bias: TensorBuffer?
    /// Activation (Gelu) applied last.
    var activation: FusedActivation
    /// Op types of the fused chain, e.g. "MatMul+Add+Gelu" (profiles).
    var label: String
}

/// Load-time pattern matching of the chains the streaming models are made of:
/// MatMul(x, W) -> Add(bias) -> Gelu, MatMul -> Add, Conv -> Gelu and Gemm -> Gelu. A chain is
/// fused only when every intermediate value has exactly one consumer and is not a graph output,
/// the bias is a float32 constant spanning exactly the last output dimension, and the head's
/// inputs are float32.
struct FusionPlanner {
    let graph: Graph
    /// Consumer node indices of each value (one entry per use).
    private var consumers: [[Int]]
    private var isGraphOutput: [Bool]

    init(graph: Graph) {
        self.graph = graph
        consumers = [[Int]](repeating: [], count: graph.valueCount)
        isGraphOutput = [Bool](repeating: false, count: graph.valueCount)
        for (i, node) in graph.nodes.enumerated() {
            for v in node.inputs where v >= 0 { consumers[v].append(i) }
        }
        for v in graph.outputs { isGraphOutput[v] = true }
    }

    /// The only node reading `v`, when there is exactly one use and `v` is not a graph output.
    func soleConsumer(_ v: Int) -> Int? {
        guard v >= 0, !isGraphOutput[v], consumers[v].count == 1 else { return nil }
        return consumers[v][0]
    }

    struct Plan {
        /// Bias/activation folded into a MatMul, Gemm or Conv head; nil for other fusions.
        var epilogue: FusedEpilogue?
        /// Streaming causal depthwise convolution replacing Concat + Conv + Slice; nil otherwise.
        var causal: CausalDepthwisePlan?
        /// Nodes absorbed into the head (skipped by the compiler).
        var absorbed: [Int]
        /// Outputs the fused kernel writes.
        var outputs: [Int]
        /// Inputs of the fused kernel (value ids), when they differ from the head node's.
        var inputs: [Int]?
        /// Label for profiles.
        var label: String
    }

    /// `cat = Concat(state, x, axis = last)`, `y = Conv(cat, W, B)` depthwise (group = channels,
    /// one filter per channel, stride 1, no padding) and `state_out = Slice(cat)` taking the last
    /// `state` columns: the streaming form of a causal depthwise convolution. Fused, the window
    /// is never materialised.
    func causalDepthwise(at index: Int, inputs: [TensorBuffer?], buffer: (Int) -> TensorBuffer?) -> Plan? {
        let cat = graph.nodes[index]
        guard cat.opType == "Concat", cat.domain.isEmpty || cat.domain == "ai.onnx", cat.inputs.count == 2, cat.outputs.count == 1,
              cat.outputs[0] >= 0, inputs.count == 2, let state = inputs[0], let x = inputs[1],
              state.dataType == .float, x.dataType == .float, state.shape.count == 3, x.shape.count == 3,
              state.shape[0] == x.shape[0], state.shape[1] == x.shape[1], state.shape[2] > 0, x.shape[2] > 0 else { return nil }
        let axis = cat.attributes["axis"].map { Int($0.i) } ?? 0
        guard axis == 2 || axis == -1 else { return nil }
        let v = cat.outputs[0]
        guard !isGraphOutput[v], consumers[v].count == 2 else { return nil }
        let a = consumers[v][0], b = consumers[v][1]
        guard a != b else { return nil }
        let (ci, si) = graph.nodes[a].opType == "Conv" ? (a, b) : (b, a)
        let conv = graph.nodes[ci], slice = graph.nodes[si]
        guard conv.opType == "Conv", slice.opType == "Slice", conv.domain.isEmpty || conv.domain == "ai.onnx",
              slice.domain.isEmpty || slice.domain == "ai.onnx", conv.inputs.count >= 2, conv.inputs[0] == v,
              conv.inputs[1] >= 0, conv.outputs.count == 1, conv.outputs[0] >= 0,
              slice.inputs.count >= 3, slice.inputs[0] == v, slice.outputs.count == 1, slice.outputs[0] >= 0 else { return nil }
        let channels = state.shape[1], stateLength = state.shape[2], total = stateLength + x.shape[2]
        // Depthwise weights [C, 1, K], constant; bias constant [C] or absent.
        guard let w = buffer(conv.inputs[1]), w.isConstant, w.dataType == .float, w.shape.count == 3,
              w.shape[0] == channels, w.shape[1] == 1 else { return nil }
        var bias: Int? = nil
        if conv.inputs.count > 2, conv.inputs[2] >= 0 {
            guard let bb = buffer(conv.inputs[2]), bb.isConstant, bb.dataType == .float, bb.shape == [channels] else { return nil }
            bias = conv.inputs[2]
        }
        let attr = conv.attributes
        let taps = w.shape[2]
        guard (attr["group"].map { Int($0.i) } ?? 1) == channels, channels > 1 || taps >= 1 else { return nil }
        if let ks = attr["kernel_shape"], ks.ints.map({ Int($0) }) != [taps] { return nil }
        if let st = attr["strides"], st.ints.map({ Int($0) }) != [1] { return nil }
        if let pads = attr["pads"], pads.ints.contains(where: { $0 != 0 }) { return nil }
        if let ap = attr["auto_pad"], !(ap.string == "NOTSET" || ap.string == "VALID") { return nil }
        let dilation = attr["dilations"].map { $0.ints.count == 1 ? Int($0.ints[0]) : -1 } ?? 1
        guard dilation >= 1 else { return nil }
        let outLength = total - (taps - 1) * dilation
        guard outLength >= 1 else { return nil }
        // Slice: the last `stateLength` columns along axis 2, step 1.
        func ints(_ i: Int) -> [Int]? {
            guard i < slice.inputs.count, slice.inputs[i] >= 0 else { return nil }
            guard let t = buffer(slice.inputs[i]), t.isConstant, t.dataType == .int64 || t.dataType == .int32 else { return nil }
            return t.readInts()
        }
        guard let starts = ints(1), let ends = ints(2), starts.count == 1, ends.count == 1 else { return nil }
        if slice.inputs.count > 3, slice.inputs[3] >= 0 {
            guard let axes = ints(3), axes == [2] || axes == [-1] else { return nil }
        } else {
            return nil   // default axes = [0]: not this pattern
        }
        if slice.inputs.count > 4, slice.inputs[4] >= 0 {
            guard let steps = ints(4), steps == [1] else { return nil }
        }
        let start = starts[0] < 0 ? max(0, starts[0] + total) : min(starts[0], total)
        let end = ends[0] < 0 ? max(0, ends[0] + total) : min(ends[0], total)
        guard start == total - stateLength, end == total else { return nil }
        let plan = CausalDepthwisePlan(taps: taps, dilation: dilation, outLength: outLength)
        return Plan(epilogue: nil, causal: plan, absorbed: [ci, si], outputs: [conv.outputs[0], slice.outputs[0]],
                    inputs: [cat.inputs[0], cat.inputs[1], conv.inputs[1]] + (bias.map { [$0] } ?? []),
                    label: "Concat+Conv+Slice (causal depthwise)")
    }

    static func geluActivation(_ node: Graph.Node) -> FusedActivation? {
        guard node.opType == "Gelu", node.domain.isEmpty || node.domain == "ai.onnx", node.inputs.count == 1,
              node.outputs.count == 1 else { return nil }
        switch node.attributes["approximate"].map({ $0.string }) ?? "none" {
        case "none": return .gelu
        case "tanh": return .geluTanh
        default: return nil
        }
    }

    /// The fusion starting at node `index`, whose input buffers are `inputs`.
    func plan(at index: Int, inputs: [TensorBuffer?], buffer: (Int) -> TensorBuffer?) -> Plan? {
        let head = graph.nodes[index]
        if head.opType == "Concat" { return causalDepthwise(at: index, inputs: inputs, buffer: buffer) }
        guard head.domain.isEmpty || head.domain == "ai.onnx", head.outputs.count == 1, head.outputs[0] >= 0 else { return nil }
        guard ["MatMul", "Gemm", "Conv"].contains(head.opType) else { return nil }
        guard inputs.count >= 2, let a = inputs[0], let b = inputs[1], a.dataType == .float, b.dataType == .float else { return nil }
        var label = head.opType
        var bias: TensorBuffer? = nil
        var absorbed: [Int] = []
        var current = head.outputs[0]
        if head.opType == "MatMul", a.shape.count >= 2, b.shape.count == 2, let j = soleConsumer(current) {
            let add = graph.nodes[j]
            if add.opType == "Add", add.domain.isEmpty || add.domain == "ai.onnx", add.inputs.count == 2, add.outputs.count == 1,
               add.outputs[0] >= 0 {
                let other = add.inputs[0] == current ? add.inputs[1] : add.inputs[0]
                let n = b.shape[1]
                let outRank = a.shape.count
                if other >= 0, other != current, let c = buffer(other), c.isConstant, c.dataType == .float,
                   let last = c.shape.last, last == n, c.count == n, c.shape.count <= outRank {
                    bias = c
                    absorbed.append(j)
                    current = add.outputs[0]
                    label += "+Add"
                }
            }
        }
        var activation = FusedActivation.none
        if let j = soleConsumer(current), let act = FusionPlanner.geluActivation(graph.nodes[j]) {
            activation = act
            absorbed.append(j)
            current = graph.nodes[j].outputs[0]
            label += "+Gelu"
        }
        guard !absorbed.isEmpty else { return nil }
        return Plan(epilogue: FusedEpilogue(bias: bias, activation: activation, label: label), causal: nil, absorbed: absorbed,
                    outputs: [current], inputs: nil, label: label)
    }
}

/// Geometry of a fused causal depthwise convolution (see `FusionPlanner.causalDepthwise`).
struct CausalDepthwisePlan {
    let taps: Int
    let dilation: Int
    /// Output positions (T).
    let outLength: Int
}
