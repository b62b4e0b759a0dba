import CFFTW
import TMRVCConstants
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The source of the source–filter vocoder: per hop, the frame spectra `E_h` (band-limited
/// harmonic excitation at the output F0) and `E_n` (white noise), exactly `tmrvc.excitation.Excitation`
/// (the numpy reference; its module docstring is the specification).
///
/// Per ``step(f0Hz:)`` (one 240-sample hop, the input-aligned samples `[t*240, (t+1)*240)`):
///
/// * **harmonic** `e_h[n] = g A(f) (D_K(p) + r cos((K+1) p))`: the frequency `f` moves linearly over
///   the hop from the previous hop's end value to this hop's (sample `i` takes the fraction
///   `(i+1)/240`); an unvoiced hop holds the last frequency, a voiced hop after an unvoiced one (an
///   onset) starts at its own. The phase `phi` advances by `2 pi f / sr` per sample and is reduced
///   modulo `2 pi` at the end of each hop. The gain `g` is 1 while voiced, 0 while unvoiced, and ramps
///   over `R = excitation.voicing_ramp_samples` at the transitions: an offset hop fades out
///   (`max(0, 1 - (i+1)/R)`); an onset voices its frame retroactively, the frame's first half taking
///   the onset prefix (this hop's harmonic continued backwards, `phi_m = phi_end - (239 - m) 2 pi f / sr`,
///   faded in as `min(1, (m+1)/R)`), so the output's voicing does not start a hop late.
///   `p = phi - 2 pi round(phi / 2 pi)`, `B = excitation.harmonic_cutoff_hz / f`, `K = floor(B)`,
///   `r = B - K`, `A(f) = 2 sqrt(f / sr)` (unit power), `D_K(p) = sin((K + 1/2) p) / (2 sin(p / 2)) - 1/2`
///   (`K - p^2 K (K+1)(2K+1) / 12` where `|p| < 1e-5`). Everything in `Double`, as the reference.
/// * **noise** `e_n[n] = sqrt(12) (u - 1/2)`, `u = (lowbias32(UInt32(n) ^ excitation.noise_seed) >> 8) / 2^24`,
///   `n` the generator's running sample counter (0 at init / ``reset()``): deterministic, unit variance.
/// * **frames**: `s * [previous hop | this hop]` (zeros before the start, the onset prefix at an onset; `s` the periodic sqrt-Hann
///   synthesis window), rounded to `Float` once, 480-point real FFT (FFTW r2c, unnormalised, as
///   `numpy.fft.rfft`) -> 241 complex bins each, in ``harmonicSpectrum`` and ``noiseSpectrum``.
///
/// The engine forms `Y = H E_h + N E_n` (``shape(harmonic:noise:real:imaginary:)``) and hands it to
/// ``OverlapAddSynthesizer/synthesize(real:imaginary:output:)``; with `H = N = 1` the output is
/// `e_h + e_n` delayed by one hop.
///
/// Measured (`DSPTests/ExcitationGeneratorTests`): against `tmrvc.excitation.Excitation` on the committed
/// 300-hop fixture (glides, octave jumps, voicing gaps, 52 Hz and 990 Hz), max abs error
/// 1.25e-7 × max|E_h| (7.6e-6 at a peak of 61.0) and 1.85e-7 × max|E_n| (8.6e-6 at 46.3): the float32
/// rounding of the windowed frame, the FFT and the fixture itself (bar 1e-5). The harmonic phase
/// integrates the F0 over the whole stream, so the fixture stores its F0 track exactly (float32
/// values): an F0 track off by float32 rounding (~1e-8 relative) moves the 52 Hz pulses (211
/// harmonics) after 200 hops by 7e-4 × max|E_h|. With `H = N = 1` the overlap-add output equals
/// `e_h + e_n` delayed by 240 samples, plus the onset prefixes, within 2.9e-6 (peak 14); at 990 Hz no partial above the 11th
/// (10.89 kHz) appears (inter-partial and alias probes ≥ 128 dB below the partials).
///
/// Cost (release, single thread, 2026-12-06, on a 2-vCPU Intel Xeon host, L2 2 MiB per core, L3
/// 300 MiB, shared with a training job at load ≈ 4.5): 13–15 µs per voiced hop in thread CPU time
/// (`testCostPerHop`, 130 Hz and 52 Hz alike), 14.7 µs median wall time (`tmrvc bench --sections
/// kernels`); 1.9–2.4 µs per unvoiced hop (the harmonic FFT is skipped once both halves of the frame
/// are silent); an onset hop also computes the 240 samples of its prefix. The 720 libm `sin`/`cos`
/// calls of a voiced hop's harmonic sum dominate; the two
/// 480-point FFTs take ≈ 1.5 µs.
///
/// Real-time safety: buffers and FFTW plans are created in `init`; ``step(f0Hz:)``, ``reset()``,
/// ``copyState(from:)`` and ``shape(harmonic:noise:real:imaginary:)`` neither allocate nor lock.
/// Not thread safe: one instance per stream.
public final class ExcitationGenerator {
    /// New samples per step (`vocoder.hop_length`).
    public static let hopLength = TMRVCConstants.Vocoder.hopLength
    /// Frame length and FFT size (`vocoder.n_fft`).
    public static let fftSize = TMRVCConstants.Vocoder.nFft
    /// Complex bins per frame spectrum (`vocoder.n_fft / 2 + 1`).
    public static let binCount = TMRVCConstants.Vocoder.nFft / 2 + 1
    /// Sample rate of the excitation (`audio.sample_rate`).
    public static let sampleRate = Double(TMRVCConstants.Audio.sampleRate)
    /// Harmonics are generated up to this frequency (`excitation.harmonic_cutoff_hz`).
    public static let harmonicCutoffHz = TMRVCConstants.Excitation.harmonicCutoffHz
    /// Seed of the counter-hashed noise (`excitation.noise_seed`).
    public static let noiseSeed = UInt32(truncatingIfNeeded: TMRVCConstants.Excitation.noiseSeed)

    // Constants copied at init (static lets are lazily initialised: not for the audio thread).
    private let hop = ExcitationGenerator.hopLength
    private let n = ExcitationGenerator.fftSize
    private let bins = ExcitationGenerator.binCount
    private let sampleRate = ExcitationGenerator.sampleRate
    private let cutoff = ExcitationGenerator.harmonicCutoffHz
    private let seed = ExcitationGenerator.noiseSeed
    private let ramp = Double(TMRVCConstants.Excitation.voicingRampSamples)
    private let root12 = (12.0).squareRoot()

    // Streaming state (copied by copyState).
    private var phase = 0.0          // phi at the end of the last hop, in [0, 2 pi)
    private var frequencyEnd = 0.0   // f at the end of the last hop (held while unvoiced)
    private var gainEnd = 0.0        // g at the end of the last hop
    private var sampleCounter = 0    // samples generated so far (the noise counter)
    /// Whether the previous hop's harmonic samples are all zero (its FFT can be skipped).
    private var previousHarmonicSilent = true

    /// `[previous hop | this hop]` of each signal (480 doubles).
    private let harmonicSegment: UnsafeMutablePointer<Double>
    private let noiseSegment: UnsafeMutablePointer<Double>
    /// The periodic sqrt-Hann window (480 doubles).
    private let window: UnsafeMutablePointer<Double>
    private let harmonicFFT: RealFFT   // owners of plans and buffers
    private let noiseFFT: RealFFT
    private let harmonicIn: UnsafeMutablePointer<Float>
    private let noiseIn: UnsafeMutablePointer<Float>
    private let harmonicOut: UnsafeMutablePointer<Float>
    private let noiseOut: UnsafeMutablePointer<Float>
    private let harmonicPlan: fftwf_plan
    private let noisePlan: fftwf_plan

    /// `E_h` of the last step: ``binCount`` complex bins, interleaved `(re, im)` (2 × 241 floats).
    public var harmonicSpectrum: UnsafePointer<Float> { UnsafePointer(harmonicOut) }
    /// `E_n` of the last step: ``binCount`` complex bins, interleaved `(re, im)` (2 × 241 floats).
    public var noiseSpectrum: UnsafePointer<Float> { UnsafePointer(noiseOut) }

    /// Creates a generator at the start of a stream and plans its two FFTs (not real-time).
    ///
    /// - Parameter rigor: FFTW planning effort (``FFTPlanningRigor/estimate`` by default).
    public init(rigor: FFTPlanningRigor = .estimate) {
        precondition(TMRVCConstants.Vocoder.window == "sqrt_hann_periodic", "unsupported vocoder.window")
        precondition(n == 2 * hop, "ExcitationGenerator requires vocoder.n_fft == 2 * vocoder.hop_length")
        harmonicSegment = .allocate(capacity: n)
        harmonicSegment.initialize(repeating: 0, count: n)
        noiseSegment = .allocate(capacity: n)
        noiseSegment.initialize(repeating: 0, count: n)
        window = .allocate(capacity: n)
        let twoPi = 2.0 * Double.pi
        for m in 0..<n { window[m] = (0.5 - 0.5 * cos(twoPi * Double(m) / Double(n))).squareRoot() }
        harmonicFFT = RealFFT(n: n, rigor: rigor)
        noiseFFT = RealFFT(n: n, rigor: rigor)
        harmonicIn = harmonicFFT.input.pointer
        noiseIn = noiseFFT.input.pointer
        harmonicOut = harmonicFFT.output.pointer
        noiseOut = noiseFFT.output.pointer
        harmonicPlan = harmonicFFT.plan
        noisePlan = noiseFFT.plan
    }

    deinit {
        harmonicSegment.deallocate()
        noiseSegment.deallocate()
        window.deallocate()
    }

    /// Returns to the start of a stream: phase, frequency and gain 0, noise counter 0, zero history,
    /// zero spectra. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func reset() {
        phase = 0
        frequencyEnd = 0
        gainEnd = 0
        sampleCounter = 0
        previousHarmonicSilent = true
        for i in 0..<n { harmonicSegment[i] = 0; noiseSegment[i] = 0 }
        rtFill(harmonicOut, 0, 2 * bins)
        rtFill(noiseOut, 0, 2 * bins)
    }

    /// Takes over `other`'s stream state (phase, frequency, gain, noise counter, the previous hop and
    /// the last spectra), so this generator continues exactly where `other` is. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func copyState(from other: ExcitationGenerator) {
        phase = other.phase
        frequencyEnd = other.frequencyEnd
        gainEnd = other.gainEnd
        sampleCounter = other.sampleCounter
        previousHarmonicSilent = other.previousHarmonicSilent
        for i in 0..<n { harmonicSegment[i] = other.harmonicSegment[i]; noiseSegment[i] = other.noiseSegment[i] }
        for i in 0..<(2 * bins) { harmonicOut[i] = other.harmonicOut[i]; noiseOut[i] = other.noiseOut[i] }
    }

    /// Generates the next hop at output F0 `f0Hz` (0 or negative: unvoiced) and computes its frame
    /// spectra into ``harmonicSpectrum`` and ``noiseSpectrum``. Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func step(f0Hz: Double) {
        let hop = self.hop, n = self.n
        let twoPi = 2.0 * Double.pi
        let sr = sampleRate, cutoff = self.cutoff
        let h = harmonicSegment, e = noiseSegment
        for i in 0..<hop { h[i] = h[hop + i]; e[i] = e[hop + i] }
        let current = h + hop

        // Frequency and gain trajectories (the reference's f0s/f1 and _hop_gain).
        let voiced = f0Hz > 0
        let gStart = gainEnd, fEnd = frequencyEnd   // locals: `&&` takes an autoclosure (it would retain self)
        let onset = voiced && gStart == 0
        let offset = !voiced && gStart > 0
        let g1: Double = voiced ? 1 : 0
        let f1 = voiced ? f0Hz : fEnd
        let fStart = onset ? f1 : fEnd
        let base = phase, ramp = self.ramp
        var sum = 0.0          // the reference's cumsum of the phase increments
        let silent = gStart == 0 && g1 == 0
        if silent {
            for i in 0..<hop {
                let f = fStart + (f1 - fStart) * (Double(i + 1) / Double(hop))
                sum += twoPi * f / sr
                current[i] = 0
            }
        } else {
            for i in 0..<hop {
                let f = fStart + (f1 - fStart) * (Double(i + 1) / Double(hop))
                let g = onset ? min(1, Double(hop + i + 1) / ramp)
                    : (offset ? max(0, 1 - Double(i + 1) / ramp) : g1)
                sum += twoPi * f / sr
                current[i] = (f > 0 && g > 0)
                    ? harmonicExcitationSample(phi: base + sum, frequency: f, gain: g, cutoff: cutoff, sampleRate: sr) : 0
            }
        }
        if onset {   // the onset prefix replaces the frame's first half (rendered unvoiced last hop)
            let step = twoPi * f1 / sr
            for m in 0..<hop {
                let g = min(1, Double(m + 1) / ramp)
                h[m] = harmonicExcitationSample(phi: base - Double(hop - 1 - m) * step, frequency: f1, gain: g,
                                                cutoff: cutoff, sampleRate: sr)
            }
        }
        let end = base + sum
        phase = _unsafePerformance { fmod(end, twoPi) }   // libm: no allocation
        frequencyEnd = f1
        gainEnd = g1

        // Noise: a hash of the running sample counter.
        let seed = self.seed, root12 = self.root12
        let counter = sampleCounter
        for i in 0..<hop {
            let x = lowbias32Hash(UInt32(truncatingIfNeeded: counter + i) ^ seed)
            e[hop + i] = root12 * (Double(x >> 8) * (1.0 / 16777216.0) - 0.5)
        }
        sampleCounter = counter + hop

        // Frame spectra.
        let w = window
        let previousSilent = previousHarmonicSilent
        if silent && previousSilent {
            rtFill(harmonicOut, 0, 2 * bins)   // the FFT of zeros
        } else {
            let hi = harmonicIn
            for m in 0..<n { hi[m] = Float(w[m] * h[m]) }
            let plan = harmonicPlan
            _unsafePerformance { fftwf_execute(plan) }   // no allocation, no locks
        }
        previousHarmonicSilent = silent
        let ni = noiseIn
        for m in 0..<n { ni[m] = Float(w[m] * e[m]) }
        let plan = noisePlan
        _unsafePerformance { fftwf_execute(plan) }
    }

    /// The source–filter product `Y = H E_h + N E_n` of the last step, for per-bin magnitudes
    /// `harmonic` (`H`) and `noise` (`N`), ``binCount`` each, into separate real and imaginary parts
    /// (``binCount`` each; the input of ``OverlapAddSynthesizer/synthesize(real:imaginary:output:)``).
    /// Real-time safe.
    #if !DEBUG
    @_noAllocation
    #endif
    public func shape(harmonic: UnsafePointer<Float>, noise: UnsafePointer<Float>,
                      real: UnsafeMutablePointer<Float>, imaginary: UnsafeMutablePointer<Float>) {
        let eh = harmonicOut, en = noiseOut
        for k in 0..<bins {
            let a = harmonic[k], b = noise[k]
            real[k] = a * eh[2 * k] + b * en[2 * k]
            imaginary[k] = a * eh[2 * k + 1] + b * en[2 * k + 1]
        }
    }

    /// One harmonic excitation sample (`f > 0`, `g > 0`) at the configured cutoff and rate.
    static func harmonicSample(phi: Double, frequency f: Double, gain g: Double) -> Double {
        harmonicExcitationSample(phi: phi, frequency: f, gain: g, cutoff: harmonicCutoffHz, sampleRate: sampleRate)
    }

    /// Chris Wellons' lowbias32 integer hash (wrapping arithmetic), as `tmrvc.excitation.lowbias32`.
    public static func lowbias32(_ value: UInt32) -> UInt32 { lowbias32Hash(value) }

    /// Noise excitation sample `index` of a stream (`sqrt(12) (u - 1/2)`), as `tmrvc.excitation.noise`.
    public static func noiseSample(_ index: Int) -> Double {
        let x = lowbias32(UInt32(truncatingIfNeeded: index) ^ noiseSeed)
        return (12.0).squareRoot() * (Double(x >> 8) * (1.0 / 16777216.0) - 0.5)
    }
}

/// One harmonic excitation sample (`f > 0`, `g > 0`), as `tmrvc.excitation.harmonic_samples`:
/// `g A(f) (D_K(p) + r cos((K+1) p))`. Real-time safe.
@inline(__always)
func harmonicExcitationSample(phi: Double, frequency f: Double, gain g: Double, cutoff: Double, sampleRate: Double) -> Double {
    let twoPi = 2.0 * Double.pi
    return _unsafePerformance {   // rounding, sqrt and libm sin/cos: no allocation
        let p = phi - twoPi * (phi / twoPi).rounded(.toNearestOrEven)   // centred on the pulse
        let b = cutoff / f
        let k = b.rounded(.down)
        let r = b - k
        let amplitude = g * 2.0 * (f / sampleRate).squareRoot()
        let dirichlet: Double
        if abs(p) < 1e-5 {
            dirichlet = k - p * p * k * (k + 1.0) * (2.0 * k + 1.0) / 12.0
        } else {
            dirichlet = sin((k + 0.5) * p) / (2.0 * sin(0.5 * p)) - 0.5
        }
        return amplitude * (dirichlet + r * cos((k + 1.0) * p))
    }
}

/// Chris Wellons' lowbias32 integer hash (wrapping arithmetic). Real-time safe.
@inline(__always)
func lowbias32Hash(_ value: UInt32) -> UInt32 {
    var x = value
    x ^= x >> 16
    x &*= 0x7FEB_352D
    x ^= x >> 15
    x &*= 0x846C_A68B
    x ^= x >> 16
    return x
}
