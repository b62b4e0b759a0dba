// Decoding of ONNX messages from the protobuf wire format. Field numbers follow onnx/onnx.proto.

extension ONNXModel {
    /// Reads and decodes an ONNX model file. Tensor data stays in the mapped file (zero copy);
    /// external data files next to the model are mapped and validated too.
    public static func load(path: String) throws(ONNXFormatError) -> ONNXModel {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            throw ONNXFormatError(file: path, field: "ModelProto", offset: 0, reason: "cannot open: \(error.reason)")
        }
        return try decode(file: file)
    }

    /// Decodes a model from bytes already in memory.
    public static func decode(file: MappedFile) throws(ONNXFormatError) -> ONNXModel {
        var reader = WireReader(base: file.bytes, fileOffset: 0, start: 0, end: file.count, file: file.path, field: "ModelProto")
        var model = ONNXModel(file: file)
        var sawGraph = false
        while !reader.isAtEnd {
            let (number, wire) = try reader.readTag()
            switch number {
            case 1: model.irVersion = try reader.readInt64(wire)
            case 2: try reader.expect(wire, .lengthDelimited); model.producerName = try reader.readString()
            case 3: try reader.expect(wire, .lengthDelimited); model.producerVersion = try reader.readString()
            case 7:
                var sub = try reader.readMessage(wire, field: "graph")
                model.graph = try decodeGraph(&sub, file: file)
                sawGraph = true
            case 8:
                var sub = try reader.readMessage(wire, field: "opset_import[\(model.opsetImports.count)]")
                var op = OpsetImport()
                while !sub.isAtEnd {
                    let (n, w) = try sub.readTag()
                    switch n {
                    case 1: try sub.expect(w, .lengthDelimited); op.domain = try sub.readString()
                    case 2: op.version = try sub.readInt64(w)
                    default: try sub.skip(w)
                    }
                }
                model.opsetImports.append(op)
            case 25:
                model.functionCount += 1
                try reader.skip(wire)
            default:
                try reader.skip(wire)
            }
        }
        guard sawGraph else { throw reader.error("model has no graph (field 7)", at: 0) }
        try model.resolveExternalData()
        return model
    }

    /// Maps external data files (`data_location = EXTERNAL`) relative to the model's directory:
    /// initializers and attribute tensors, in the main graph and in sub-graphs.
    mutating func resolveExternalData() throws(ONNXFormatError) {
        var resolver = ExternalDataResolver(modelPath: file.path)
        try resolver.resolve(&graph, field: "ModelProto.graph")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[...slash])
    }
}

/// Resolves external tensor data against the model's directory, mapping each data file once.
struct ExternalDataResolver {
    let modelPath: String
    let directory: String
    var cache: [String: MappedFile] = [:]
    /// Canonical path of the model's directory (resolved on first use).
    var canonicalDirectory: String? = nil

    init(modelPath: String) {
        self.modelPath = modelPath
        self.directory = ONNXModel.directory(of: modelPath)
    }

    mutating func resolve(_ graph: inout GraphProto, field: String) throws(ONNXFormatError) {
        for i in graph.initializers.indices {
            try resolve(&graph.initializers[i], field: "\(field).initializer[\(i)](\(graph.initializers[i].name))")
        }
        for n in graph.nodes.indices {
            for a in graph.nodes[n].attributes.indices {
                let attrField = "\(field).node[\(n)].attribute[\(a)]"
                var attr = graph.nodes[n].attributes[a]
                var changed = false
                if var t = attr.t, case .external = t.storage {
                    try resolve(&t, field: attrField + ".t")
                    attr.t = t
                    changed = true
                }
                for k in attr.tensors.indices {
                    guard case .external = attr.tensors[k].storage else { continue }
                    try resolve(&attr.tensors[k], field: attrField + ".tensors[\(k)]")
                    changed = true
                }
                if let box = attr.g, box.graph.containsExternalData {
                    var g = box.graph
                    try resolve(&g, field: attrField + ".g")
                    attr.g = GraphBox(g)
                    changed = true
                }
                for k in attr.graphs.indices where attr.graphs[k].containsExternalData {
                    try resolve(&attr.graphs[k], field: attrField + ".graphs[\(k)]")
                    changed = true
                }
                if changed { graph.nodes[n].attributes[a] = attr }
            }
        }
    }

    mutating func resolve(_ t: inout TensorProto, field tensorField: String) throws(ONNXFormatError) {
        guard case .external(let location, let offset, let length) = t.storage else { return }
        let field = tensorField + ".external_data"
        func fail(_ reason: String) -> ONNXFormatError {
            ONNXFormatError(file: modelPath, field: field, offset: t.sourceOffset, reason: reason)
        }
        if location.hasPrefix("/") || location.utf8.contains(0) || location.split(separator: "/").contains("..") {
            throw fail("external data location '\(location)' must be a relative path inside the model's directory")
        }
        let path = directory + location
        let ext: MappedFile
        if let cached = cache[path] {
            ext = cached
        } else {
            // The location may still leave the directory through a symbolic link.
            guard let real = canonicalPath(path) else {
                throw fail("cannot open external data file '\(path)': \(lastErrorDescription())")
            }
            if canonicalDirectory == nil {
                guard let dir = canonicalPath(directory.isEmpty ? "." : directory) else {
                    throw fail("cannot resolve the model's directory: \(lastErrorDescription())")
                }
                canonicalDirectory = dir.hasSuffix("/") ? dir : dir + "/"
            }
            guard real.hasPrefix(canonicalDirectory!) else {
                throw fail("external data location '\(location)' resolves to '\(real)', outside the model's directory")
            }
            do { ext = try MappedFile(path: path) } catch {
                throw fail("cannot open external data file '\(path)': \(error.reason)")
            }
            cache[path] = ext
        }
        guard let size = t.dataType.byteSize else {
            throw fail("external data of type \(t.dataType) is not supported")
        }
        let want = t.elementCount * size
        let count = length ?? want
        guard count == want else {
            throw fail("external length \(count) does not match shape \(t.dims) of \(t.dataType) (\(want) bytes)")
        }
        guard offset <= ext.count, count <= ext.count - offset else {
            throw fail("external range of \(count) bytes at offset \(offset) lies outside '\(path)' (\(ext.count) bytes)")
        }
        t.storage = .mapped(file: ext, offset: offset, count: count)
    }
}

extension GraphProto {
    /// Whether any tensor of this graph or its sub-graphs refers to external data.
    var containsExternalData: Bool {
        func isExternal(_ t: TensorProto) -> Bool {
            if case .external = t.storage { return true }
            return false
        }
        if initializers.contains(where: isExternal) { return true }
        for node in nodes {
            for a in node.attributes {
                if let t = a.t, isExternal(t) { return true }
                if a.tensors.contains(where: isExternal) { return true }
                if let g = a.g, g.graph.containsExternalData { return true }
                if a.graphs.contains(where: { $0.containsExternalData }) { return true }
            }
        }
        return false
    }
}

/// Decodes a serialized `TensorProto` file (the ONNX backend-test `input_N.pb` layout).
public func decodeTensorFile(path: String) throws(ONNXFormatError) -> TensorProto {
    let file: MappedFile
    do { file = try MappedFile(path: path) } catch {
        throw ONNXFormatError(file: path, field: "TensorProto", offset: 0, reason: "cannot open: \(error.reason)")
    }
    var reader = WireReader(base: file.bytes, fileOffset: 0, start: 0, end: file.count, file: path, field: "TensorProto")
    return try decodeTensor(&reader, file: file)
}

func decodeGraph(_ r: inout WireReader, file: MappedFile) throws(ONNXFormatError) -> GraphProto {
    var g = GraphProto()
    while !r.isAtEnd {
        let (number, wire) = try r.readTag()
        switch number {
        case 1:
            var sub = try r.readMessage(wire, field: "node[\(g.nodes.count)]")
            g.nodes.append(try decodeNode(&sub, file: file))
        case 2: try r.expect(wire, .lengthDelimited); g.name = try r.readString()
        case 5:
            var sub = try r.readMessage(wire, field: "initializer[\(g.initializers.count)]")
            g.initializers.append(try decodeTensor(&sub, file: file))
        case 11:
            var sub = try r.readMessage(wire, field: "input[\(g.inputs.count)]")
            g.inputs.append(try decodeValueInfo(&sub))
        case 12:
            var sub = try r.readMessage(wire, field: "output[\(g.outputs.count)]")
            g.outputs.append(try decodeValueInfo(&sub))
        case 13:
            var sub = try r.readMessage(wire, field: "value_info[\(g.valueInfo.count)]")
            g.valueInfo.append(try decodeValueInfo(&sub))
        case 15:
            g.hasSparseInitializers = true
            try r.skip(wire)
        default:
            try r.skip(wire)
        }
    }
    return g
}

func decodeNode(_ r: inout WireReader, file: MappedFile) throws(ONNXFormatError) -> NodeProto {
    var n = NodeProto()
    while !r.isAtEnd {
        let (number, wire) = try r.readTag()
        switch number {
        case 1: try r.expect(wire, .lengthDelimited); n.inputs.append(try r.readString())
        case 2: try r.expect(wire, .lengthDelimited); n.outputs.append(try r.readString())
        case 3: try r.expect(wire, .lengthDelimited); n.name = try r.readString()
        case 4: try r.expect(wire, .lengthDelimited); n.opType = try r.readString()
        case 7: try r.expect(wire, .lengthDelimited); n.domain = try r.readString()
        case 5:
            var sub = try r.readMessage(wire, field: "attribute[\(n.attributes.count)]")
            n.attributes.append(try decodeAttribute(&sub, file: file))
        default: try r.skip(wire)
        }
    }
    return n
}

func decodeAttribute(_ r: inout WireReader, file: MappedFile) throws(ONNXFormatError) -> AttributeProto {
    var a = AttributeProto()
    var rawFloats: [UInt32] = []
    while !r.isAtEnd {
        let (number, wire) = try r.readTag()
        switch number {
        case 1: try r.expect(wire, .lengthDelimited); a.name = try r.readString()
        case 20:
            let v = try r.readInt32(wire)
            guard let t = AttributeType(rawValue: v) else { throw r.error("unknown attribute type \(v)", member: "type") }
            a.type = t
        case 2: a.f = try r.readFloat(wire)
        case 3: a.i = try r.readInt64(wire)
        case 4: try r.expect(wire, .lengthDelimited); a.s = try r.readBytes()
        case 5:
            var sub = try r.readMessage(wire, field: "t")
            a.t = try decodeTensor(&sub, file: file)
        case 6:
            var sub = try r.readMessage(wire, field: "g")
            a.g = GraphBox(try decodeGraph(&sub, file: file))
        case 7: try r.readRepeatedFixed32(wire, into: &rawFloats)
        case 8: try r.readRepeatedVarint(wire, into: &a.ints)
        case 9: try r.expect(wire, .lengthDelimited); a.strings.append(try r.readBytes())
        case 10:
            var sub = try r.readMessage(wire, field: "tensors[\(a.tensors.count)]")
            a.tensors.append(try decodeTensor(&sub, file: file))
        case 11:
            var sub = try r.readMessage(wire, field: "graphs[\(a.graphs.count)]")
            a.graphs.append(try decodeGraph(&sub, file: file))
        case 21: try r.expect(wire, .lengthDelimited); a.refAttrName = try r.readString()
        default: try r.skip(wire)
        }
    }
    a.floats = rawFloats.map { Float(bitPattern: $0) }
    return a
}

func decodeValueInfo(_ r: inout WireReader) throws(ONNXFormatError) -> ValueInfo {
    var v = ValueInfo()
    while !r.isAtEnd {
        let (number, wire) = try r.readTag()
        switch number {
        case 1: try r.expect(wire, .lengthDelimited); v.name = try r.readString()
        case 2:
            var type = try r.readMessage(wire, field: "type")
            while !type.isAtEnd {
                let (tn, tw) = try type.readTag()
                if tn == 1 {
                    var tensor = try type.readMessage(tw, field: "tensor_type")
                    while !tensor.isAtEnd {
                        let (n2, w2) = try tensor.readTag()
                        switch n2 {
                        case 1:
                            let raw = try tensor.readInt32(w2)
                            guard let dt = DataType(rawValue: raw) else { throw tensor.error("unknown data type \(raw)", member: "elem_type") }
                            v.elementType = dt
                        case 2:
                            var shape = try tensor.readMessage(w2, field: "shape")
                            var dims: [Dimension] = []
                            while !shape.isAtEnd {
                                let (n3, w3) = try shape.readTag()
                                guard n3 == 1 else { try shape.skip(w3); continue }
                                var dim = try shape.readMessage(w3, field: "dim[\(dims.count)]")
                                var d = Dimension.unknown
                                while !dim.isAtEnd {
                                    let (n4, w4) = try dim.readTag()
                                    switch n4 {
                                    case 1: d = .value(Int(try dim.readInt64(w4)))
                                    case 2: try dim.expect(w4, .lengthDelimited); d = .param(try dim.readString())
                                    default: try dim.skip(w4)
                                    }
                                }
                                dims.append(d)
                            }
                            v.shape = dims
                        default: try tensor.skip(w2)
                        }
                    }
                } else {
                    if tn == 4 || tn == 5 || tn == 8 || tn == 9 { v.isNonTensor = true }
                    try type.skip(tw)
                }
            }
        default: try r.skip(wire)
        }
    }
    return v
}

func decodeTensor(_ r: inout WireReader, file: MappedFile) throws(ONNXFormatError) -> TensorProto {
    var t = TensorProto()
    var rawRange: Range<Int>? = nil
    var floats: [UInt32] = []
    var ints: [Int64] = []     // int32_data (also holds int8/16, uint8/16, bool, float16 bits)
    var int64s: [Int64] = []
    var doubles: [UInt64] = []
    var uint64s: [Int64] = []
    var strings: [[UInt8]] = []
    var externalEntries: [(String, String)] = []
    var isExternal = false
    var rawDims: [Int64] = []
    let start = r.position
    t.sourceOffset = r.fileOffset + start
    while !r.isAtEnd {
        let (number, wire) = try r.readTag()
        switch number {
        case 1: try r.readRepeatedVarint(wire, into: &rawDims)
        case 2:
            let raw = try r.readInt32(wire)
            guard let dt = DataType(rawValue: raw) else { throw r.error("unknown data type \(raw)", member: "data_type") }
            t.dataType = dt
        case 4: try r.readRepeatedFixed32(wire, into: &floats)
        case 5: try r.readRepeatedVarint(wire, into: &ints)
        case 6: try r.expect(wire, .lengthDelimited); strings.append(try r.readBytes())
        case 7: try r.readRepeatedVarint(wire, into: &int64s)
        case 8: try r.expect(wire, .lengthDelimited); t.name = try r.readString()
        case 9: try r.expect(wire, .lengthDelimited); rawRange = try r.readLengthDelimited()
        case 10: try r.readRepeatedFixed64(wire, into: &doubles)
        case 11: try r.readRepeatedVarint(wire, into: &uint64s)
        case 13:
            var entry = try r.readMessage(wire, field: "external_data")
            var key = "", value = ""
            while !entry.isAtEnd {
                let (n, w) = try entry.readTag()
                switch n {
                case 1: try entry.expect(w, .lengthDelimited); key = try entry.readString()
                case 2: try entry.expect(w, .lengthDelimited); value = try entry.readString()
                default: try entry.skip(w)
                }
            }
            externalEntries.append((key, value))
        case 14: isExternal = try r.readInt32(wire) == 1
        default: try r.skip(wire)
        }
    }
    func dimsError(_ reason: String) -> ONNXFormatError {
        ONNXFormatError(file: r.file, field: r.field + "(\(t.name)).dims", offset: r.fileOffset + start, reason: reason)
    }
    func externalError(_ reason: String) -> ONNXFormatError {
        ONNXFormatError(file: r.file, field: r.field + "(\(t.name)).external_data", offset: r.fileOffset + start, reason: reason)
    }
    var count = 1
    for d in rawDims {
        guard d >= 0, d <= Int64(Int32.max) else { throw dimsError("invalid dimension \(d) in dims \(rawDims)") }
        let (m, overflow) = count.multipliedReportingOverflow(by: Int(d))
        guard !overflow, m <= (1 << 40) else { throw dimsError("dims \(rawDims) hold too many elements") }
        count = m
    }
    t.dims = rawDims.map { Int($0) }
    let field = r.field + "(\(t.name))"
    func mismatch(_ what: String, _ got: Int) -> ONNXFormatError {
        ONNXFormatError(file: r.file, field: field + "." + what, offset: r.fileOffset + start,
                        reason: "\(what) holds \(got) elements but dims \(t.dims) need \(count) of \(t.dataType)")
    }
    if isExternal {
        var location = "", offset = 0, length: Int? = nil
        for (k, v) in externalEntries {
            switch k {
            case "location": location = v
            case "offset":
                guard let o = Int(v), o >= 0 else { throw externalError("offset '\(v)' is not a non-negative integer") }
                offset = o
            case "length":
                guard let l = Int(v), l >= 0 else { throw externalError("length '\(v)' is not a non-negative integer") }
                length = l
            default: break
            }
        }
        guard !location.isEmpty else { throw externalError("external tensor has no location") }
        t.storage = .external(location: location, offset: offset, length: length)
        return t
    }
    if t.dataType == .string {
        guard strings.count == count else { throw mismatch("string_data", strings.count) }
        t.storage = .strings(strings)
        return t
    }
    guard t.dataType != .undefined else {
        throw ONNXFormatError(file: r.file, field: field + ".data_type", offset: r.fileOffset + start, reason: "tensor has no data_type")
    }
    if let range = rawRange {
        let need: Int
        switch t.dataType {
        case .uint4, .int4, .float4e2m1: need = (count + 1) / 2
        default: need = count * (t.dataType.byteSize ?? 0)
        }
        guard range.count == need else {
            throw ONNXFormatError(file: r.file, field: field + ".raw_data", offset: r.fileOffset + range.lowerBound,
                                  reason: "raw_data has \(range.count) bytes but dims \(t.dims) of \(t.dataType) need \(need)")
        }
        t.storage = .mapped(file: file, offset: r.fileOffset + range.lowerBound, count: range.count)
        return t
    }
    var bytes: [UInt8] = []
    switch t.dataType {
    case .float:
        guard floats.count == count else { throw mismatch("float_data", floats.count) }
        bytes.reserveCapacity(count * 4)
        for v in floats { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    case .complex64:
        guard floats.count == count * 2 else { throw mismatch("float_data", floats.count / 2) }
        for v in floats { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    case .int32:
        guard ints.count == count else { throw mismatch("int32_data", ints.count) }
        for v in ints { withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian) { bytes.append(contentsOf: $0) } }
    case .int16, .uint16, .float16, .bfloat16:
        guard ints.count == count else { throw mismatch("int32_data", ints.count) }
        for v in ints { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { bytes.append(contentsOf: $0) } }
    case .int8, .uint8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
        guard ints.count == count else { throw mismatch("int32_data", ints.count) }
        for v in ints { bytes.append(UInt8(truncatingIfNeeded: v)) }
    case .int64:
        guard int64s.count == count else { throw mismatch("int64_data", int64s.count) }
        for v in int64s { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    case .double:
        guard doubles.count == count else { throw mismatch("double_data", doubles.count) }
        for v in doubles { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    case .complex128:
        guard doubles.count == count * 2 else { throw mismatch("double_data", doubles.count / 2) }
        for v in doubles { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    case .uint32, .uint64:
        guard uint64s.count == count else { throw mismatch("uint64_data", uint64s.count) }
        for v in uint64s {
            if t.dataType == .uint32 {
                withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { bytes.append(contentsOf: $0) }
            } else {
                withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
    case .uint4, .int4, .float4e2m1:
        guard ints.count == (count + 1) / 2 else { throw mismatch("int32_data", ints.count * 2) }
        for v in ints { bytes.append(UInt8(truncatingIfNeeded: v)) }
    case .string, .undefined:
        break
    }
    t.storage = .owned(bytes)
    return t
}
