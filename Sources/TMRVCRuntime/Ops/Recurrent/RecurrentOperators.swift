extension OperatorRegistry {
    /// Recurrent layers (LSTM, GRU).
    static var recurrentOperators: [OperatorDefinition] {
        [Operators.lstm, Operators.gru]
    }
}
