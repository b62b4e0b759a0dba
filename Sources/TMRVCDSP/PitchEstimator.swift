import TMRVCConstants
import TMRVCKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One pitch estimate (one per hop).
public struct PitchEstimate: Sendable, Equatable {
    /// Fundamental frequency in Hz; 0 for unvoiced frames.
    public var f0Hz: Float
    /// Voicing confidence in 0...1 (`1 - d'_min` of YIN for voiced frames, 0 otherwise).
    public var voicing: Float
    /// The converter's first pitch channel: `log2(f0 / pitch.f0_ref_hz)` when voiced, else 0,
    /// computed in `Double` from the unrounded F0 and rounded once (as `tmrvc.pitch`: the output F0's
    /// phase integrates it over the whole stream, so one float32 rounding more shows after seconds).
    public var logF0Feature: Float

    /// Creates an estimate (the log-F0 feature from `f0Hz`).
    public init(f0Hz: Float, voicing: Float) {
        self.init(unroundedF0Hz: Double(f0Hz), voicing: voicing)
    }

    /// Creates an estimate from an unrounded F0.
    init(unroundedF0Hz f0: Double, voicing: Float) {
        f0Hz = Float(f0)
        self.voicing = voicing
        logF0Feature = f0 > 0 ? Float(_unsafePerformance { log2(f0 / TMRVCConstants.Pitch.f0RefHz) }) : 0
    }

    /// An unvoiced frame.
    public static let unvoiced = PitchEstimate(f0Hz: 0, voicing: 0)
}

/// Causal YIN F0 estimator producing the converter's `pitch` input (`dims.pitch` = 2 channels:
/// `[log2(f0 / f0_ref) or 0, voicing]`), following `tmrvc.pitch` (the Python reference).
///
/// Frame `t` uses the `windowLength` newest 24 kHz samples `x[(t+1)*240 - windowLength ..< (t+1)*240]`
/// (zeros before the stream start), so with the default window (= `frontend.win_length`, 960) it
/// sees exactly the samples of log-mel frame `t` and adds no latency. Per frame:
///
/// * the window is low-passed by a 2nd-order Butterworth biquad at `pitch.lowpass_hz` (RBJ form,
///   `Double`, zero initial state, oldest sample first: stateless, so any window of the stream gives
///   the same answer) and **reversed**, so the integration window is the `W = windowLength / 2`
///   newest samples and the lagged copy reaches back (the estimate describes the newest samples);
/// * difference function of the reversed window `y`, `d(tau) = sum_{j<W} (y[j] - y[j+tau])^2`
///   (SIMD, `Float`), for `tau = 1 ... tauMax`;
/// * cumulative-mean-normalised `d'(tau) = d(tau) * tau / sum_{k=1..tau} d(k)` (`Double`);
/// * search `tau` in `[floor(sr / f0_max), tauMax]`, `tauMax = min(W, ceil(sr / f0_min))`: the first
///   `tau` with `d' < threshold`, walked down to the local minimum, else the global minimum;
///   parabolic interpolation on `d'(tau - 1 ... tau + 1)`; `f0 = sr / tau`. Unlike the Python
///   reference, the refinement also applies at the edges of the search range (using `d'` one lag
///   outside it when the window allows), so F0 near `f0_max` is not quantised to the lag grid
///   (e.g. 990 Hz is estimated as ~990 Hz, not 1000 Hz); the result is clamped to
///   `[pitch.f0_min_hz, pitch.f0_max_hz]`;
/// * **pitch track** (the octave reference): while a confident frame (voiced, `d'(tau) <
///   pitch.track_confident_dmin`) lies at most `pitch.track_hold_frames` frames back, the deepest
///   local minima of `d'` near `tau / 2`, `2 tau` and the track's own lag (within
///   `pitch.track_search_tolerance`) replace `tau` when their F0 is nearer the track's log-F0 and their
///   `d'` at most `pitch.track_octave_margin` above `d'(tau)` (octave errors of YIN's first-dip rule,
///   and global minima at a multiple of the period when no dip is below the threshold);
/// * voiced when the RMS of the `W` newest samples ≥ `silenceRMS` (newest 20 ms silent: unvoiced)
///   and the level-independent logistic score
///   `pitch.voicing_dmin_weight * d'(tau) + pitch.voicing_lowband_weight * L +
///   pitch.voicing_previous_dmin_weight * d'_previous + pitch.voicing_bias > 0`,
///   `L` = low-passed over full-band window energy in dB, `d'_previous` the previous frame's `d'`
///   (1 at the start); a voiced frame that is not confident is unvoiced when a track is held and
///   its log-F0 is more than `pitch.track_max_jump_octaves` from it (spurious weakly periodic
///   frames in fricatives and creak; onsets, with no track held, stay voiced); voicing =
///   `clamp(1 - d'(tau), 0, 1)`. A confident voiced frame sets the track to its log-F0.
///
/// Quality knob: the window length. 960 samples (40 ms) covers `pitch.f0_min_hz` = 50 Hz; shorter
/// windows cost less (O(W * tauMax) per hop) and react faster but raise the lowest detectable F0 to
/// `2 * sr / windowLength` (480 samples -> 100 Hz).
///
/// Accuracy against torchcrepe and pyworld labels: docs/training.md "F0 estimator".
///
/// State: the sample history (``process(_:count:estimates:capacity:)``) and the pitch track (every
/// estimate); ``reset()`` clears both, ``resetTrack()`` the track only.
///
/// Real-time safety: buffers sized in `init`; ``process(_:count:estimates:capacity:)`` and
/// ``estimate(window:)`` neither allocate nor lock. Not thread safe.
public final class PitchEstimator {
    /// Samples per hop / per estimate (`audio.hop_length`).
    public static let hopLength = TMRVCConstants.Audio.hopLength
    /// Analysis sample rate (`audio.sample_rate`).
    public static let sampleRate = TMRVCConstants.Audio.sampleRate

    /// Analysis window length in samples (the newest samples of each frame).
    public let windowLength: Int
    /// The kernel build of the difference function (the process's active one).
    let kernels = KernelSet.active
    /// Integration length of the difference function (`windowLength / 2`).
    public let integrationLength: Int
    /// Smallest lag searched: `floor(sr / pitch.f0_max_hz)`.
    public let minLag: Int
    /// Largest lag searched: `min(windowLength / 2, ceil(sr / pitch.f0_min_hz))`.
    public let maxLag: Int
    /// YIN absolute threshold on `d'` for choosing the lag (not the voicing decision).
    public let threshold: Double
    /// Frames whose newest `windowLength / 2` samples have an RMS below this are unvoiced.
    public let silenceRMS: Double

    private let sampleRate = Double(PitchEstimator.sampleRate)
    private let minLagSamples = Double(PitchEstimator.sampleRate) / TMRVCConstants.Pitch.f0MaxHz
    private let maxLagSamples = Double(PitchEstimator.sampleRate) / TMRVCConstants.Pitch.f0MinHz
    private var frames: HopWindow                      // windowLength samples, newest last
    private let diff: UnsafeMutablePointer<Double>     // d'(tau), tau = 0 ... computedLags
    private let computedLags: Int                      // maxLag + 1 when the window allows it
    private let reversed: UnsafeMutablePointer<Float>  // the low-passed window, newest sample first
    private let lowpass: (b0: Double, b1: Double, b2: Double, a1: Double, a2: Double)
    // Pitch track (the octave reference) and the previous frame's d'.
    private let holdFrames = TMRVCConstants.Pitch.trackHoldFrames
    private var track = 0.0                            // log2 F0 (Hz) of the last confident frame
    private var framesSinceConfident = TMRVCConstants.Pitch.trackHoldFrames + 1
    private var previousDmin = 1.0

    /// Creates an estimator.
    ///
    /// - Parameters:
    ///   - windowLength: samples per analysis window; even, at least `audio.hop_length` and at least
    ///     `2 * (floor(sr / f0_max) + 2)`. Default `frontend.win_length` (960).
    ///   - threshold: YIN absolute threshold for choosing the lag (default 0.15, as the reference).
    ///   - silenceRMS: RMS of the newest `windowLength / 2` samples below which a frame is unvoiced
    ///     (default 1e-3, as the reference).
    public init(windowLength: Int = TMRVCConstants.Frontend.winLength, threshold: Double = 0.15,
                silenceRMS: Double = 1e-3) {
        let sr = Double(PitchEstimator.sampleRate)
        let tauMin = Int(floor(sr / TMRVCConstants.Pitch.f0MaxHz))
        precondition(windowLength % 2 == 0 && windowLength / 2 >= tauMin + 2 && windowLength >= PitchEstimator.hopLength,
                     "PitchEstimator: windowLength must be even, >= hop and cover the F0 search range")
        self.windowLength = windowLength
        integrationLength = windowLength / 2
        minLag = tauMin
        maxLag = min(windowLength / 2, Int(ceil(sr / TMRVCConstants.Pitch.f0MinHz)))
        self.threshold = threshold
        self.silenceRMS = silenceRMS
        frames = HopWindow(length: windowLength, hop: PitchEstimator.hopLength)
        computedLags = min(windowLength / 2, maxLag + 1)
        diff = .allocate(capacity: computedLags + 1)
        diff.initialize(repeating: 0, count: computedLags + 1)
        reversed = .allocate(capacity: windowLength)
        reversed.initialize(repeating: 0, count: windowLength)
        lowpass = Self.lowpassCoefficients()
    }

    /// The 2nd-order Butterworth low-pass at `pitch.lowpass_hz` (RBJ cookbook, Q = 1/sqrt(2)),
    /// normalised so `a0 = 1`; as `tmrvc.pitch.lowpass_coefficients`.
    static func lowpassCoefficients() -> (b0: Double, b1: Double, b2: Double, a1: Double, a2: Double) {
        let w0 = 2 * Double.pi * TMRVCConstants.Pitch.lowpassHz / Double(sampleRate)
        let alpha = sin(w0) / (2 * 0.5.squareRoot())
        let c = cos(w0)
        let a0 = 1 + alpha
        return ((1 - c) / 2 / a0, (1 - c) / a0, (1 - c) / 2 / a0, -2 * c / a0, (1 - alpha) / a0)
    }

    deinit {
        frames.deallocate()
        diff.deallocate()
        reversed.deallocate()
    }

    /// Returns to the start of a stream (history = zeros). Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func reset() {
        frames.reset()
        resetTrack()
    }

    /// Forgets the pitch track and the previous frame's periodicity (as at the start of a stream),
    /// keeping the sample history. For a caller that skipped frames. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func resetTrack() {
        track = 0
        framesSinceConfident = holdFrames + 1
        previousDmin = 1
    }

    /// How many estimates pushing `count` samples will produce from the current state.
    public func estimateCount(afterPushing count: Int) -> Int { frames.windowCount(afterPushing: count) }

    /// Pushes `count` 24 kHz samples; writes one estimate per completed hop to `estimates`.
    ///
    /// `capacity` must be at least ``estimateCount(afterPushing:)``. Returns the number written.
    /// Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    @discardableResult
    public func process(_ samples: UnsafePointer<Float>, count: Int,
                        estimates: UnsafeMutablePointer<PitchEstimate>, capacity: Int) -> Int {
        let needed = frames.windowCount(afterPushing: count)   // not inside the autoclosure (it would retain self)
        precondition(needed <= capacity, "PitchEstimator: estimate buffer too small")
        var produced = 0, i = 0
        while i < count {
            i += frames.append(samples + i, count: count - i)
            guard frames.isComplete else { continue }
            estimates[produced] = estimate(window: frames.window)
            produced += 1
            frames.advance()
        }
        return produced
    }

    /// Estimates F0 of the next frame from its window of ``windowLength`` samples (oldest first),
    /// advancing the pitch track (call it once per hop, in order) but not the sample history.
    /// Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func estimate(window x: UnsafePointer<Float>) -> PitchEstimate {
        let w = integrationLength
        let diff = self.diff, minLag = self.minLag, maxLag = self.maxLag, computedLags = self.computedLags
        let threshold = self.threshold, silenceRMS = self.silenceRMS
        let y = reversed, n = windowLength, f = lowpass
        // Low-pass (zero state, oldest first) into the reversed buffer; full-band and low-band energy.
        var energy = 0.0, lowEnergy = 0.0, newestEnergy = 0.0
        var x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0
        for j in 0..<n {
            let v = Double(x[j])
            let out = f.b0 * v + f.b1 * x1 + f.b2 * x2 - f.a1 * y1 - f.a2 * y2
            x2 = x1; x1 = v; y2 = y1; y1 = out
            energy += v * v
            if j >= n - w { newestEnergy += v * v }
            lowEnergy += out * out
            y[n - 1 - j] = Float(out)
        }
        let meanSquare = energy / Double(n)
        let newestMeanSquare = newestEnergy / Double(w)
        let rms = _unsafePerformance { newestMeanSquare.squareRoot() }   // of the reference window
        let lowbandDB = 10 * _unsafePerformance { log10((lowEnergy / Double(n) + 1e-12) / (meanSquare + 1e-12)) }
        // Difference function and cumulative-mean normalisation.
        diff[0] = 1
        var cum = 0.0
        let squaredDistance = kernels.squaredDistance
        for tau in 1...computedLags {
            let d = Double(_unsafePerformance { squaredDistance(y, y + tau, w) })   // a kernel: no allocation, no locks
            cum += d
            diff[tau] = cum > 0 ? d * Double(tau) / cum : 1
        }
        var tau = -1
        var t = minLag
        while t <= maxLag {
            if diff[t] < threshold { tau = t; break }
            t += 1
        }
        if tau >= 0 {
            while tau + 1 <= maxLag && diff[tau + 1] < diff[tau] { tau += 1 }
        } else {
            tau = minLag
            for t in minLag...maxLag where diff[t] < diff[tau] { tau = t }
        }
        let held = framesSinceConfident <= holdFrames
        if held {   // octave choice by the track: tau / 2, 2 tau or the dip at the track's lag when nearer it and nearly as periodic
            let limit = diff[tau] + TMRVCConstants.Pitch.trackOctaveMargin
            let track = self.track, sr = sampleRate, minLag = self.minLag, maxLag = self.maxLag
            var best = tau, bestDistance = pitchOctaves(lag: tau, from: track, sampleRate: sr)
            let trackLag = sr / _unsafePerformance { exp2(track) }
            for k in 0..<3 {
                let target = k == 0 ? Double(tau) / 2 : k == 1 ? 2 * Double(tau) : trackLag
                guard let c = pitchNearMinimum(diff, target, minLag: minLag, maxLag: maxLag), diff[c] <= limit else { continue }
                let distance = pitchOctaves(lag: c, from: track, sampleRate: sr)
                if distance < bestDistance { best = c; bestDistance = distance }
            }
            tau = best
        }
        let dmin = diff[tau]
        let score = TMRVCConstants.Pitch.voicingDminWeight * dmin
            + TMRVCConstants.Pitch.voicingLowbandWeight * lowbandDB
            + TMRVCConstants.Pitch.voicingPreviousDminWeight * previousDmin + TMRVCConstants.Pitch.voicingBias
        previousDmin = dmin
        var voiced = score > 0 && rms >= silenceRMS
        var lag = Double(tau)
        if tau > 1 && tau < computedLags {
            let a = diff[tau - 1], b = diff[tau], c = diff[tau + 1]
            let den = a - 2 * b + c
            if den > 0 { lag += 0.5 * (a - c) / den }
        }
        lag = min(maxLagSamples, max(minLagSamples, lag))   // keep f0 in [f0_min, f0_max]
        let sr = sampleRate, previousTrack = self.track
        let logF0 = _unsafePerformance { log2(sr / lag) }
        let confident = dmin < TMRVCConstants.Pitch.trackConfidentDmin
        let offTrack = held && abs(logF0 - previousTrack) > TMRVCConstants.Pitch.trackMaxJumpOctaves
        if voiced && !confident && offTrack {
            voiced = false   // weakly periodic and off the held track
        }
        if voiced && confident {
            track = logF0
            framesSinceConfident = 0
        } else {
            framesSinceConfident = min(framesSinceConfident + 1, holdFrames + 1)
        }
        guard voiced else { return .unvoiced }
        return PitchEstimate(unroundedF0Hz: sr / lag, voicing: Float(min(1, max(0, 1 - dmin))))
    }
}

/// The deepest local minimum of `d'` (`diff`) within `pitch.track_search_tolerance` (relative)
/// of lag `target`, strictly inside `(minLag, maxLag)`; nil when the deepest point there is not
/// one. As `tmrvc.pitch._near_minimum` (a free function: real-time code may not touch class metadata).
func pitchNearMinimum(_ diff: UnsafePointer<Double>, _ target: Double, minLag: Int, maxLag: Int) -> Int? {
    let tolerance = TMRVCConstants.Pitch.trackSearchTolerance
    let low = target * (1 - tolerance), high = target * (1 + tolerance)   // > 0: Int() is floor
    let lo = max(minLag, Int(low))
    let hi = min(maxLag, Double(Int(high)) < high ? Int(high) + 1 : Int(high))
    if hi - lo < 1 { return nil }
    var t = lo
    for k in lo...hi where diff[k] < diff[t] { t = k }
    if t <= minLag || t >= maxLag { return nil }
    if diff[t] > diff[t - 1] || diff[t] > diff[t + 1] { return nil }
    return t
}

/// Octaves between lag `tau`'s F0 and `track` (log2 Hz).
func pitchOctaves(lag tau: Int, from track: Double, sampleRate: Double) -> Double {
    abs(_unsafePerformance { log2(sampleRate / Double(tau)) } - track)
}
