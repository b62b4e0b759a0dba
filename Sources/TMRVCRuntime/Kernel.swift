import ONNXFormat

/// A compiled operator instance. `run()` is called on the audio thread: it must not allocate,
/// lock, throw, or look anything up by name. All parameters are computed at load in the
/// subclass's initializer.
open class Kernel: @unchecked Sendable {
    public init() {}

    /// Computes the outputs from the inputs, reading `TensorBuffer.data` each time.
    open func run() {}
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
