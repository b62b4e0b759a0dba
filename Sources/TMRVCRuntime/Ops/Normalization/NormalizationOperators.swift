extension OperatorRegistry {
    /// Normalization, softmax and reduction operators.
    static var normalizationOperators: [OperatorDefinition] {
        [
            Operators.softmax, Operators.logSoftmax, Operators.hardmax,
            Operators.layerNormalization, Operators.instanceNormalization, Operators.groupNormalization,
            Operators.batchNormalization, Operators.lpNormalization, Operators.meanVarianceNormalization,
            Operators.reduceSum, Operators.reduceMean, Operators.reduceProd, Operators.reduceMax,
            Operators.reduceMin, Operators.reduceL1, Operators.reduceL2, Operators.reduceLogSum,
            Operators.reduceLogSumExp, Operators.reduceSumSquare,
            Operators.argMax, Operators.argMin,
        ]
    }
}
