import ONNXFormat

/// The runtime's graph IR: values by index, nodes in topological order, validated.
public struct Graph: Sendable {
    /// A node of the IR.
    public struct Node: Sendable {
        /// Node name (or a generated `"<opType>#<index>"` when the file has none).
        public var name: String
        /// Operator type.
        public var opType: String
        /// Operator domain ("" for the default ONNX domain).
        public var domain: String
        /// Input value indices; -1 marks an omitted optional input.
        public var inputs: [Int]
        /// Output value indices; -1 marks an omitted optional output.
        public var outputs: [Int]
        /// Attributes by name.
        public var attributes: [String: AttributeProto]
    }

    /// Path of the model file (for error messages).
    public var file: String
    /// Opset of the default domain.
    public var opset: Int
    /// Value names, indexed by value id.
    public var valueNames: [String] = []
    /// Value id by name.
    public var valueIndex: [String: Int] = [:]
    /// Nodes in topological order.
    public var nodes: [Node] = []
    /// Initializer tensors by value id.
    public var initializers: [Int: TensorProto] = [:]
    /// Runtime graph inputs (initializers excluded), in declaration order.
    public var inputs: [Int] = []
    /// Declared type/shape of each runtime input, parallel to `inputs`.
    public var inputInfo: [ValueInfo] = []
    /// Graph outputs in declaration order.
    public var outputs: [Int] = []
    /// Declared type/shape of each output, parallel to `outputs`.
    public var outputInfo: [ValueInfo] = []

    /// Builds and validates the IR of a decoded model.
    public init(model: ONNXModel) throws(RuntimeError) {
        file = model.file.path
        opset = model.defaultOpset
        let g = model.graph
        if g.hasSparseInitializers {
            throw RuntimeError(.unsupported, "\(file): sparse initializers are not supported")
        }
        for op in model.opsetImports where !(op.domain == "" || op.domain == "ai.onnx") {
            // Other domains are reported per node if a node uses them.
            _ = op
        }
        func id(_ name: String) -> Int {
            if let i = valueIndex[name] { return i }
            valueNames.append(name)
            valueIndex[name] = valueNames.count - 1
            return valueNames.count - 1
        }
        var defined = Set<Int>()
        for t in g.initializers {
            guard !t.name.isEmpty else { throw RuntimeError(.invalidGraph, "\(file): an initializer has no name") }
            let v = id(t.name)
            guard initializers[v] == nil else { throw RuntimeError(.invalidGraph, "\(file): initializer '\(t.name)' is declared twice") }
            initializers[v] = t
            defined.insert(v)
        }
        for info in g.inputs where initializers[valueIndex[info.name] ?? -1] == nil {
            if info.isNonTensor {
                throw RuntimeError(.unsupported, "\(file): input '\(info.name)' is not a tensor (sequences, maps and optionals are not supported)")
            }
            let v = id(info.name)
            guard !defined.contains(v) else { throw RuntimeError(.invalidGraph, "\(file): input '\(info.name)' is declared twice") }
            inputs.append(v)
            inputInfo.append(info)
            defined.insert(v)
        }
        // Collect producers.
        var producer: [Int: Int] = [:]
        var raw: [Node] = []
        for (n, node) in g.nodes.enumerated() {
            let name = node.name.isEmpty ? "\(node.opType)#\(n)" : node.name
            var attrs: [String: AttributeProto] = [:]
            for a in node.attributes { attrs[a.name] = a }
            let ins = node.inputs.map { $0.isEmpty ? -1 : id($0) }
            var outs: [Int] = []
            for o in node.outputs {
                if o.isEmpty { outs.append(-1); continue }
                let v = id(o)
                if defined.contains(v) || producer[v] != nil {
                    throw RuntimeError(.invalidGraph, "\(file): node '\(name)' (\(node.opType)) redefines value '\(o)'")
                }
                producer[v] = raw.count
                outs.append(v)
            }
            raw.append(Node(name: name, opType: node.opType, domain: node.domain, inputs: ins, outputs: outs, attributes: attrs))
        }
        for node in raw {
            for v in node.inputs where v >= 0 && !defined.contains(v) && producer[v] == nil {
                throw RuntimeError(.invalidGraph, "\(file): node '\(node.name)' (\(node.opType)) reads '\(valueNames[v])', which no node, input or initializer defines")
            }
        }
        // Kahn's algorithm, stable in file order.
        var indegree = [Int](repeating: 0, count: raw.count)
        var consumers = [[Int]](repeating: [], count: raw.count)
        for (n, node) in raw.enumerated() {
            var seen = Set<Int>()
            for v in node.inputs where v >= 0 {
                if let p = producer[v], seen.insert(p).inserted {
                    if p == n {
                        throw RuntimeError(.invalidGraph, "\(file): node '\(node.name)' (\(node.opType)) consumes its own output '\(valueNames[v])' (cycle)")
                    }
                    indegree[n] += 1
                    consumers[p].append(n)
                }
            }
        }
        var ready = (0..<raw.count).filter { indegree[$0] == 0 }
        var order: [Int] = []
        order.reserveCapacity(raw.count)
        var head = 0
        while head < ready.count {
            let n = ready[head]; head += 1
            order.append(n)
            for c in consumers[n] {
                indegree[c] -= 1
                if indegree[c] == 0 { ready.append(c) }
            }
        }
        if order.count != raw.count {
            let stuck = (0..<raw.count).filter { indegree[$0] > 0 }.prefix(5).map { "'\(raw[$0].name)'" }
            throw RuntimeError(.invalidGraph, "\(file): the graph has a cycle through nodes \(stuck.joined(separator: ", "))")
        }
        nodes = order.map { raw[$0] }
        for info in g.outputs {
            guard let v = valueIndex[info.name], defined.contains(v) || producer[v] != nil else {
                throw RuntimeError(.invalidGraph, "\(file): graph output '\(info.name)' is not produced by any node, input or initializer")
            }
            outputs.append(v)
            outputInfo.append(info)
        }
    }

    /// Number of values.
    public var valueCount: Int { valueNames.count }
}
