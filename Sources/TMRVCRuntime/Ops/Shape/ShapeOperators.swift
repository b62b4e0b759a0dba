extension OperatorRegistry {
    /// Shape and data-movement operators.
    static var shapeOperators: [OperatorDefinition] {
        [Operators.reshape, Operators.identity, Operators.constant, Operators.shape]
    }
}
