extension OperatorRegistry {
    /// Element-wise arithmetic, comparison, logic and activation operators.
    static var elementwiseOperators: [OperatorDefinition] {
        [Operators.add, Operators.sub, Operators.mul, Operators.div]
    }
}
