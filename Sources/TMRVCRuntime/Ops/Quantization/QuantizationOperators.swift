extension OperatorRegistry {
    /// Dynamic quantisation and integer products: the operators of ONNX Runtime's
    /// `quantize_dynamic` files (DynamicQuantizeLinear feeding MatMulInteger / ConvInteger).
    static var quantizationOperators: [OperatorDefinition] {
        [Operators.dynamicQuantizeLinear, Operators.matMulInteger, Operators.convInteger]
    }
}
