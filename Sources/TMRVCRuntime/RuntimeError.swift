import ONNXFormat

/// An error raised while loading or compiling a model. Running a compiled session never throws.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem this is.
    public enum Kind: Sendable, Equatable {
        /// The file is not valid ONNX protobuf.
        case format
        /// The graph is inconsistent (dangling input, cycle, duplicate producer).
        case invalidGraph
        /// The op, its version or one of its attributes is not supported.
        case unsupported
        /// Shapes or types do not fit the op.
        case shape
        /// A session call used a name, index or buffer that does not fit.
        case binding
    }

    /// The kind of problem.
    public let kind: Kind
    /// Human-readable message naming the file, node, op and what is wrong.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
