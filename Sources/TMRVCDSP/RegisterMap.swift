import TMRVCConstants
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Moves the source's log-F0 into a target speaker's register, exactly `tmrvc.excitation.RegisterMap`
/// (the numpy reference).
///
/// Features are `x = log2(f0 / pitch.f0_ref_hz)` on voiced frames. Running statistics of the source
/// start at the prior (mean `log2(pitch.register_prior_hz / f0_ref)`, variance
/// `pitch.register_prior_std^2`); on every voiced frame `n += 1`,
/// `k_mean = n + pitch.register_mean_prior_frames` while `n <= pitch.register_settle_frames` (the first
/// voiced frames set the register), then `pitch.register_mean_frames` (slow: a faster running mean
/// would follow, and so remove, the sentence's own intonation);
/// `k_var = min(n + pitch.register_prior_frames, pitch.register_max_frames)`, `d = x - mean`,
/// `mean += d / k_mean`, `var += (d (x - mean) - var) / k_var`. With target statistics (a speaker file's
/// `(mean, std)` of its voiced log-F0) the output is
/// `target_mean + (x - mean) * clip(target_std / sqrt(var), register_std_ratio_min, register_std_ratio_max)`;
/// without them it is `x`. The pitch shift (`semitones / 12`) is added on top; unvoiced frames map to 0.
/// All arithmetic in `Double`.
///
/// One deliberate extension of the reference, which only updates its statistics when it has a
/// target: this map updates them on every voiced frame. The output is the same in every case the
/// reference covers (without a target it never reads them), and a map whose target is set later (a
/// speaker change, or the engine's shift-only mode switched back to automatic) starts from the
/// source's current register instead of the prior.
///
/// Measured (`DSPTests/ExcitationGeneratorTests`): against the reference on the committed 300-frame
/// track (target mean 0.3, std 0.12, shift +1.5 semitones), max abs error 1.2e-7 (the float32
/// storage of the fixture's input and output; bar 1e-6).
///
/// Real-time safety: a value type without references; every method is allocation- and lock-free.
public struct RegisterMap: Sendable, Equatable {
    /// Prior mean of the source statistics, `log2(pitch.register_prior_hz / pitch.f0_ref_hz)`.
    public static let priorMean = log2(TMRVCConstants.Pitch.registerPriorHz / TMRVCConstants.Pitch.f0RefHz)
    /// Prior variance, `pitch.register_prior_std^2`.
    public static let priorVariance = TMRVCConstants.Pitch.registerPriorStd * TMRVCConstants.Pitch.registerPriorStd

    /// The prior (copied at init: static constants are lazily initialised, which real-time code must not touch).
    private let initialMean = RegisterMap.priorMean
    private let initialVariance = RegisterMap.priorVariance
    private let priorFrames = TMRVCConstants.Pitch.registerPriorFrames
    private let meanPriorFrames = TMRVCConstants.Pitch.registerMeanPriorFrames
    private let settleFrames = TMRVCConstants.Pitch.registerSettleFrames
    private let meanFrames = TMRVCConstants.Pitch.registerMeanFrames
    private let maxFrames = TMRVCConstants.Pitch.registerMaxFrames
    private let ratioMin = TMRVCConstants.Pitch.registerStdRatioMin
    private let ratioMax = TMRVCConstants.Pitch.registerStdRatioMax
    private let warpMin = TMRVCConstants.Pitch.contentWarpMin
    private let warpMax = TMRVCConstants.Pitch.contentWarpMax
    /// Voiced frames seen since the start of the stream.
    public private(set) var count = 0
    /// Running mean of the source's log-F0.
    public private(set) var mean = RegisterMap.priorMean
    /// Running variance of the source's log-F0.
    public private(set) var variance = RegisterMap.priorVariance
    /// Target log-F0 mean (meaningful when ``hasTarget``).
    public private(set) var targetMean = 0.0
    /// Target log-F0 standard deviation (> 0; meaningful when ``hasTarget``).
    public private(set) var targetStd = 1.0
    /// Whether target statistics are set (else the map adds the shift only).
    public private(set) var hasTarget = false

    /// A map at the prior, with optional target statistics `(mean, std)` of `log2(f0 / f0_ref)`.
    public init(targetMean: Double? = nil, targetStd: Double? = nil) {
        if let targetMean, let targetStd { setTarget(mean: targetMean, std: targetStd) }
    }

    /// Back to the prior (start of a stream); keeps the target. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public mutating func reset() {
        count = 0
        mean = initialMean
        variance = initialVariance
    }

    /// Sets the target register (a speaker's log-F0 mean and standard deviation, `std > 0`). Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public mutating func setTarget(mean: Double, std: Double) {
        targetMean = mean
        targetStd = std
        hasTarget = true
    }

    /// Removes the target: the map then only adds the shift. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public mutating func clearTarget() {
        hasTarget = false
        targetMean = 0
        targetStd = 1
    }

    /// Output `log2(f0 / f0_ref)` of one frame (0 when unvoiced), updating the running statistics.
    ///
    /// - Parameters:
    ///   - x: the source's `log2(f0 / f0_ref)` (ignored when unvoiced).
    ///   - voiced: whether the frame is voiced.
    ///   - shiftSemitones: pitch shift added on top (`/ 12`).
    ///   - applyTarget: `false` maps by the shift only even when a target is set (the engine's manual
    ///     mode); the statistics are updated either way.
    /// Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public mutating func map(_ x: Double, voiced: Bool, shiftSemitones: Double = 0, applyTarget: Bool = true) -> Double {
        guard voiced else { return 0 }
        count += 1
        let kMean = Double(count <= settleFrames ? count + meanPriorFrames : meanFrames)
        let kVariance = Double(min(count + priorFrames, maxFrames))
        let d = x - mean
        mean += d / kMean
        variance += (d * (x - mean) - variance) / kVariance
        var y = x
        if hasTarget && applyTarget {
            let v = max(variance, 1e-12)
            let ratio = targetStd / _unsafePerformance { v.squareRoot() }   // sqrt instruction
            let rho = min(max(ratio, ratioMin), ratioMax)
            y = targetMean + (x - mean) * rho
        }
        return y + shiftSemitones / 12.0
    }

    /// The content warp factor `alpha = 2^(strength (targetMean - mean))` from the source statistics so
    /// far, clamped to [`pitch.content_warp_min`, `pitch.content_warp_max`]; 1 when `strength` is 0 or no
    /// target is set (`tmrvc.excitation.RegisterMap.content_warp`). Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func contentWarp(strength: Double) -> Double {
        guard strength != 0 && hasTarget else { return 1 }
        let e = strength * (targetMean - mean)
        let a = _unsafePerformance { exp2(e) }   // libm: no allocation
        return min(max(a, warpMin), warpMax)
    }

    /// ``map(_:voiced:shiftSemitones:applyTarget:)`` for `Float` features (computed in `Double`). Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public mutating func map(logF0: Float, voiced: Bool, shiftSemitones: Float = 0, applyTarget: Bool = true) -> Float {
        Float(map(Double(logF0), voiced: voiced, shiftSemitones: Double(shiftSemitones), applyTarget: applyTarget))
    }
}
