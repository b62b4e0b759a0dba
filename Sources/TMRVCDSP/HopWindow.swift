/// A sample stream cut into overlapping analysis windows that advance one hop at a time: the
/// shared push loop of the frame-based analysers (``CausalLogMel``, ``PitchEstimator``).
///
/// The window holds `length` samples, oldest first: `length - hop` samples of history, then the
/// hop in progress. Each completed hop hands the whole window to the caller, then shifts it by
/// one hop. Memory is allocated in `init` and freed by ``deallocate()`` (the owner's `deinit`);
/// ``append(_:count:)``, ``advance()`` and ``reset()`` are real-time safe. A struct of plain
/// values and the loop stays in the caller (no closure), so the real-time paths that use it
/// never retain or release anything.
struct HopWindow {
    /// Samples per window.
    let length: Int
    /// Samples per hop (the window advance).
    let hop: Int
    private let samples: UnsafeMutablePointer<Float>
    /// Samples of the hop in progress (0 ..< hop).
    private(set) var fill = 0

    init(length: Int, hop: Int) {
        precondition(hop > 0 && length >= hop, "HopWindow: need 0 < hop <= length")
        self.length = length
        self.hop = hop
        samples = .allocate(capacity: length)
        samples.initialize(repeating: 0, count: length)
    }

    /// Frees the window (call once, from the owner's `deinit`).
    func deallocate() { samples.deallocate() }

    /// History = zeros, no pending samples (the start of a stream).
    #if !DEBUG
    @_noAllocation
    #endif
    mutating func reset() {
        rtFill(samples, 0, length)
        fill = 0
    }

    /// How many windows pushing `count` samples completes from the current state.
    func windowCount(afterPushing count: Int) -> Int { (fill + count) / hop }

    /// Whether the window holds a complete hop (read ``window``, then ``advance()``).
    var isComplete: Bool { fill == hop }

    /// The window, `length` samples, oldest first.
    var window: UnsafePointer<Float> { UnsafePointer(samples) }

    /// Appends samples from `input` up to the end of the hop in progress; returns how many it
    /// took (at most `count`). The caller loops while input remains and, each time
    /// ``isComplete`` becomes true, reads ``window`` and calls ``advance()``.
    @inline(__always)
    mutating func append(_ input: UnsafePointer<Float>, count: Int) -> Int {
        let n = min(hop - fill, count)
        rtMove(samples + (length - hop) + fill, input, n)
        fill += n
        return n
    }

    /// Shifts the window by one hop after a complete hop was consumed.
    @inline(__always)
    mutating func advance() {
        rtMove(samples, samples + hop, length - hop)
        fill = 0
    }
}
