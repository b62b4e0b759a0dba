extension OperatorRegistry {
    /// Element-wise arithmetic, comparison, logic, conversion and activation operators.
    static var elementwiseOperators: [OperatorDefinition] {
        [
            // Arithmetic.swift, Pow.swift, Mod.swift
            Operators.add, Operators.sub, Operators.mul, Operators.div, Operators.powOp, Operators.modOp,
            // Comparison.swift
            Operators.equalOp, Operators.lessOp, Operators.greaterOp, Operators.lessOrEqualOp, Operators.greaterOrEqualOp,
            // Logical.swift
            Operators.andOp, Operators.orOp, Operators.xorOp, Operators.notOp,
            // Bitwise.swift
            Operators.bitShiftOp, Operators.bitwiseAndOp, Operators.bitwiseOrOp, Operators.bitwiseXorOp, Operators.bitwiseNotOp,
            // MinMaxSumMean.swift
            Operators.minOp, Operators.maxOp, Operators.sumOp, Operators.meanOp,
            // UnaryMath.swift
            Operators.sqrtOp, Operators.expOp, Operators.logOp, Operators.absOp, Operators.negOp, Operators.reciprocalOp,
            Operators.floorOp, Operators.ceilOp, Operators.roundOp, Operators.signOp,
            Operators.cosOp, Operators.sinOp, Operators.tanOp, Operators.acosOp, Operators.asinOp, Operators.atanOp,
            Operators.coshOp, Operators.sinhOp, Operators.tanhOp, Operators.acoshOp, Operators.asinhOp, Operators.atanhOp,
            Operators.erfOp,
            // IsNaNIsInf.swift
            Operators.isNaNOp, Operators.isInfOp,
            // Activations.swift, PRelu.swift
            Operators.reluOp, Operators.leakyReluOp, Operators.sigmoidOp, Operators.hardSigmoidOp, Operators.hardSwishOp,
            Operators.softplusOp, Operators.softsignOp, Operators.eluOp, Operators.seluOp, Operators.celuOp,
            Operators.geluOp, Operators.mishOp, Operators.thresholdedReluOp, Operators.swishOp, Operators.shrinkOp,
            Operators.preluOp,
            // Where.swift, Cast.swift, Clip.swift
            Operators.whereOp, Operators.castOp, Operators.castLikeOp, Operators.clipOp,
        ]
    }
}
