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
        var epilogue: FusedEpilogue
        /// Nodes absorbed into the head (skipped by the compiler).
        var absorbed: [Int]
        /// Outputs of the last node of the chain (the head writes them).
        var outputs: [Int]
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
        return Plan(epilogue: FusedEpilogue(bias: bias, activation: activation, label: label), absorbed: absorbed,
                    outputs: [current])
    }
}
