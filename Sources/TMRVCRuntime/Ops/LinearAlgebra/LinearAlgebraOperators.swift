extension OperatorRegistry {
    /// Matrix products and convolutions.
    static var linearAlgebraOperators: [OperatorDefinition] {
        [Operators.matMul, Operators.gemm, Operators.conv, Operators.convTranspose]
    }
}
