import TMRVCConstants
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Slaney-scale, Slaney-area-normalised mel filterbank of the TMRVC front end.
///
/// Identical to `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney')` and
/// to `tmrvc.frontend.mel_filterbank` (computed in `Double`). Every parameter comes from
/// `TMRVCConstants.Frontend` / `TMRVCConstants.Audio`. Built once at init; not used per sample.
public struct MelFilterbank: Sendable {
    /// Number of mel bands (`frontend.n_mels`).
    public let bandCount: Int
    /// Number of rfft bins (`frontend.n_fft / 2 + 1`).
    public let binCount: Int
    /// Dense weights, row-major `[bandCount][binCount]`, in `Double`.
    public let weights: [Double]
    /// For each band, the first bin with a non-zero weight.
    public let firstBin: [Int]
    /// For each band, one past the last bin with a non-zero weight (`firstBin == endBin` if empty).
    public let endBin: [Int]
    /// Each band's centre frequency in Hz (the peak of its triangle; `tmrvc.frontend.mel_band_centres_hz`).
    public let centreHz: [Double]

    /// Slaney mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above.
    public static func hzToMel(_ f: Double) -> Double {
        let fsp = 200.0 / 3.0
        let minLogHz = 1000.0
        let minLogMel = minLogHz / fsp
        let logStep = log(6.4) / 27.0
        return f >= minLogHz ? minLogMel + log(max(f, 1e-300) / minLogHz) / logStep : f / fsp
    }

    /// Inverse of ``hzToMel(_:)``.
    public static func melToHz(_ m: Double) -> Double {
        let fsp = 200.0 / 3.0
        let minLogHz = 1000.0
        let minLogMel = minLogHz / fsp
        let logStep = log(6.4) / 27.0
        return m >= minLogMel ? minLogHz * exp(logStep * (m - minLogMel)) : fsp * m
    }

    /// Builds the filterbank for the project constants (`frontend.*`, `audio.sample_rate`).
    public init() {
        self.init(sampleRate: Double(TMRVCConstants.Audio.sampleRate), nFFT: TMRVCConstants.Frontend.nFft,
                  bandCount: TMRVCConstants.Frontend.nMels,
                  fmin: TMRVCConstants.Frontend.fmin, fmax: TMRVCConstants.Frontend.fmax)
    }

    /// Builds a Slaney filterbank for arbitrary parameters (same recipe as the reference).
    public init(sampleRate: Double, nFFT: Int, bandCount: Int, fmin: Double, fmax: Double) {
        precondition(TMRVCConstants.Frontend.melScale == "slaney" && TMRVCConstants.Frontend.melNorm == "slaney",
                     "MelFilterbank implements only the Slaney mel scale with Slaney area normalisation")
        self.bandCount = bandCount
        let bins = nFFT / 2 + 1
        binCount = bins
        // fft_freqs = linspace(0, sr/2, bins); mel points = linspace(mel(fmin), mel(fmax), n_mels + 2).
        var fftFreqs = [Double](repeating: 0, count: bins)
        for k in 0..<bins { fftFreqs[k] = linspaceValue(0, sampleRate / 2, count: bins, index: k) }
        let mLo = MelFilterbank.hzToMel(fmin), mHi = MelFilterbank.hzToMel(fmax)
        var hz = [Double](repeating: 0, count: bandCount + 2)
        for i in 0..<(bandCount + 2) {
            hz[i] = MelFilterbank.melToHz(linspaceValue(mLo, mHi, count: bandCount + 2, index: i))
        }
        var w = [Double](repeating: 0, count: bandCount * bins)
        var first = [Int](repeating: 0, count: bandCount)
        var end = [Int](repeating: 0, count: bandCount)
        for i in 0..<bandCount {
            let fdiffLo = hz[i + 1] - hz[i]
            let fdiffHi = hz[i + 2] - hz[i + 1]
            let enorm = 2.0 / (hz[i + 2] - hz[i])
            var lo = bins, hi = 0
            for k in 0..<bins {
                let lower = -(hz[i] - fftFreqs[k]) / fdiffLo
                let upper = (hz[i + 2] - fftFreqs[k]) / fdiffHi
                let v = max(0.0, min(lower, upper)) * enorm
                w[i * bins + k] = v
                if v != 0 { lo = min(lo, k); hi = max(hi, k + 1) }
            }
            first[i] = lo < hi ? lo : 0
            end[i] = lo < hi ? hi : 0
        }
        weights = w
        firstBin = first
        endBin = end
        centreHz = Array(hz[1...bandCount])
    }
}

/// numpy.linspace(start, stop, count)[index] with numpy's formula (start + index * step, last = stop).
@inline(__always)
func linspaceValue(_ start: Double, _ stop: Double, count: Int, index: Int) -> Double {
    if count == 1 { return start }
    if index == count - 1 { return stop }
    let step = (stop - start) / Double(count - 1)
    return start + Double(index) * step
}
