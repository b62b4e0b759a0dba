extension OperatorRegistry {
    /// Normalization, softmax and reduction operators.
    static var normalizationOperators: [OperatorDefinition] {
        []
    }
}
