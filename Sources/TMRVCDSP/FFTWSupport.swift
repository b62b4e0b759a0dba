import CFFTW
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How much effort FFTW spends choosing an algorithm when a plan is created.
///
/// Planning always happens at init (never on the audio thread). `.estimate` plans in microseconds
/// and gives the same algorithm (hence bit-identical results) on every run; `.measure` times
/// candidate algorithms (up to ~1 s and ~70,000 allocations per plan on this project's machines)
/// and may pick a different, slightly faster algorithm from run to run.
public enum FFTPlanningRigor: Sendable {
    /// `FFTW_ESTIMATE`: fast, deterministic planning (the default).
    case estimate
    /// `FFTW_MEASURE`: slower planning that times candidate algorithms.
    case measure

    /// The FFTW planner flag, always combined with `FFTW_DESTROY_INPUT` semantics left at FFTW's default.
    var fftwFlags: UInt32 {
        switch self {
        case .estimate: return UInt32(FFTW_ESTIMATE)
        case .measure: return UInt32(FFTW_MEASURE)
        }
    }
}

/// Process-wide lock that serialises FFTW planner calls.
///
/// FFTW's `fftwf_execute` is thread safe, but plan creation and destruction are not: every
/// `fftwf_plan_*` and `fftwf_destroy_plan` call in the process must hold this lock. It is only
/// taken at init/deinit of the DSP objects, never in their per-hop processing.
public final class FFTWPlannerLock: @unchecked Sendable {
    /// The single instance shared by every FFTW user in the process.
    public static let shared = FFTWPlannerLock()

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    /// Runs `body` while holding the planner lock.
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// An FFTW-aligned float buffer (`fftwf_malloc`), zero-initialised, freed on deinit.
public final class AlignedFloats {
    /// Number of floats.
    public let count: Int
    /// The storage.
    public let pointer: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        guard let raw = fftwf_malloc(max(1, count) * MemoryLayout<Float>.stride) else {
            fatalError("fftwf_malloc of \(max(1, count)) floats failed (errno \(errno))")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { fftwf_free(pointer) }
}

/// Real-to-complex forward FFT of size `n` (unnormalised), planned once at init.
///
/// `input` holds `n` reals, `output` holds `n/2 + 1` complex bins as interleaved (re, im) floats.
public final class RealFFT {
    /// Transform size.
    public let n: Int
    /// `n` real inputs.
    public let input: AlignedFloats
    /// `n/2 + 1` complex outputs, interleaved (re, im).
    public let output: AlignedFloats
    /// The plan (owned; destroyed on deinit). Exposed so that real-time code can call `fftwf_execute`
    /// without touching this object (no reference counting on the audio thread).
    public let plan: fftwf_plan

    /// Plans the transform (takes the process-wide planner lock; never on the audio thread).
    public init(n: Int, rigor: FFTPlanningRigor = .estimate) {
        self.n = n
        input = AlignedFloats(count: n)
        output = AlignedFloats(count: 2 * (n / 2 + 1))
        let inp = input.pointer
        let out = UnsafeMutableRawPointer(output.pointer).bindMemory(to: fftwf_complex.self, capacity: n / 2 + 1)
        plan = FFTWPlannerLock.shared.withLock {
            fftwf_plan_dft_r2c_1d(Int32(n), inp, out, rigor.fftwFlags)!
        }
        // FFTW_MEASURE scribbles on the arrays while planning.
        input.pointer.update(repeating: 0, count: n)
        output.pointer.update(repeating: 0, count: 2 * (n / 2 + 1))
    }

    /// Transforms `input` into `output`. Real-time safe.
    @inline(__always)
    public func execute() { fftwf_execute(plan) }

    deinit {
        FFTWPlannerLock.shared.withLock { fftwf_destroy_plan(plan) }
    }
}

/// Complex-to-real inverse FFT of size `n` (unnormalised: the result is `n` times the true
/// inverse), planned once at init.
///
/// `input` holds `n/2 + 1` complex bins as interleaved (re, im) floats (FFTW may overwrite it),
/// `output` holds `n` reals. The imaginary parts of the DC and (even `n`) Nyquist bins are ignored.
final class InverseRealFFT {
    let n: Int
    let input: AlignedFloats
    let output: AlignedFloats
    /// The plan (owned; destroyed on deinit). Exposed so that real-time code can call `fftwf_execute`
    /// without touching this object (no reference counting on the audio thread).
    let plan: fftwf_plan

    init(n: Int, rigor: FFTPlanningRigor) {
        self.n = n
        input = AlignedFloats(count: 2 * (n / 2 + 1))
        output = AlignedFloats(count: n)
        let inp = UnsafeMutableRawPointer(input.pointer).bindMemory(to: fftwf_complex.self, capacity: n / 2 + 1)
        let out = output.pointer
        plan = FFTWPlannerLock.shared.withLock {
            fftwf_plan_dft_c2r_1d(Int32(n), inp, out, rigor.fftwFlags)!
        }
        input.pointer.update(repeating: 0, count: 2 * (n / 2 + 1))
        output.pointer.update(repeating: 0, count: n)
    }

    /// Transforms `input` into `output` (destroying `input`). Real-time safe.
    @inline(__always)
    func execute() { fftwf_execute(plan) }

    deinit {
        FFTWPlannerLock.shared.withLock { fftwf_destroy_plan(plan) }
    }
}

/// An FFTW-aligned double buffer (`fftw_malloc`), zero-initialised, freed on deinit.
final class AlignedDoubles {
    let count: Int
    let pointer: UnsafeMutablePointer<Double>

    init(count: Int) {
        self.count = count
        guard let raw = fftw_malloc(max(1, count) * MemoryLayout<Double>.stride) else {
            fatalError("fftw_malloc of \(max(1, count)) doubles failed (errno \(errno))")
        }
        pointer = raw.bindMemory(to: Double.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { fftw_free(pointer) }
}

/// Double-precision real-to-complex forward FFT of size `n` (unnormalised, FFTW `fftw_*`, library
/// `fftw3`), planned once at init. Used where single precision is not accurate enough (the
/// log-mel front end spans ~140 dB between its loudest bins and the 1e-5 log floor).
///
/// `input` holds `n` reals, `output` holds `n/2 + 1` complex bins as interleaved (re, im) doubles.
final class RealFFT64 {
    let n: Int
    let input: AlignedDoubles
    let output: AlignedDoubles
    /// The plan (owned; destroyed on deinit), see ``RealFFT/plan``.
    let plan: fftw_plan

    init(n: Int, rigor: FFTPlanningRigor) {
        self.n = n
        input = AlignedDoubles(count: n)
        output = AlignedDoubles(count: 2 * (n / 2 + 1))
        let inp = input.pointer
        let out = UnsafeMutableRawPointer(output.pointer).bindMemory(to: fftw_complex.self, capacity: n / 2 + 1)
        plan = FFTWPlannerLock.shared.withLock {
            fftw_plan_dft_r2c_1d(Int32(n), inp, out, rigor.fftwFlags)!
        }
        input.pointer.update(repeating: 0, count: n)
        output.pointer.update(repeating: 0, count: 2 * (n / 2 + 1))
    }

    /// Transforms `input` into `output`. Real-time safe.
    @inline(__always)
    func execute() { fftw_execute(plan) }

    deinit {
        FFTWPlannerLock.shared.withLock { fftw_destroy_plan(plan) }
    }
}
