extension OperatorRegistry {
    /// Matrix products and convolutions.
    static var linearAlgebraOperators: [OperatorDefinition] {
        []
    }
}
