import ONNXFormat

/// A compiled operator instance. `run()` is called on the audio thread: it must not allocate,
/// lock, throw, or look anything up by name. All parameters are computed at load in the
/// subclass's initializer.
open class Kernel: @unchecked Sendable {
    public init() {}

    /// Computes the outputs from the inputs, reading `TensorBuffer.data` each time.
    open func run() {}

    /// Into how many consecutive pieces ``run(pieces:)`` can split the work (1: indivisible).
    /// Lets ``InferenceSession/runPart(_:of:)`` spread a large kernel over several calls.
    open var pieceCount: Int { 1 }

    /// Estimated work of one whole `run()` in multiply-add-sized units (nil: the compiler
    /// estimates it from the size of the outputs). Only used to balance incremental runs.
    open var workEstimate: Int? { nil }

    /// Runs pieces `pieces` of the work. Callers pass consecutive ranges that start at 0 and
    /// together cover `0 ..< pieceCount`, with no other kernel of the session in between; the
    /// kernel's outputs are complete after the last range. The default (indivisible kernels)
    /// runs everything for the range that contains piece 0.
    open func run(pieces: Range<Int>) {
        if pieces.lowerBound == 0 && !pieces.isEmpty { run() }
    }
}

/// Copies one buffer into another of the same byte size.
final class CopyKernel: Kernel, @unchecked Sendable {
    let source: TensorBuffer
    let destination: TensorBuffer
    init(from source: TensorBuffer, to destination: TensorBuffer) {
        self.source = source
        self.destination = destination
    }
    override func run() {
        destination.data.copyMemory(from: source.data, byteCount: destination.byteCount)
    }
}
