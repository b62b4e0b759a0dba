/// Every operator the runtime implements, by ONNX op type. Each family lists its operators in
/// its own file (`Ops/<Family>/<Family>Operators.swift`), one op (or small op family) per file.
public enum OperatorRegistry {
    /// All definitions, keyed by op type.
    public static let definitions: [String: OperatorDefinition] = {
        var table: [String: OperatorDefinition] = [:]
        for family in [elementwiseOperators, linearAlgebraOperators, shapeOperators,
                       normalizationOperators, recurrentOperators, quantizationOperators] {
            for def in family {
                precondition(table[def.opType] == nil, "operator \(def.opType) registered twice")
                table[def.opType] = def
            }
        }
        return table
    }()

    /// The supported op types, sorted.
    public static var supportedOpTypes: [String] { definitions.keys.sorted() }

    /// Whether the op type is implemented.
    public static func supports(_ opType: String) -> Bool { definitions[opType] != nil }
}
