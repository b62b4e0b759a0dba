import ONNXFormat
import TMRVCRuntime

/// One of the streaming models of the ONNX contract, compiled for a fixed number of frames per
/// call, with its `state_in_k` / `state_out_k` pairs wired for ping-pong (no copies).
public final class StreamingModel: @unchecked Sendable {
    /// The compiled session.
    public let session: InferenceSession
    /// Frames per call (the `T` dimension).
    public let frames: Int
    /// (input index, output index) of each state pair, in `k` order.
    public let statePairs: [(input: Int, output: Int)]

    /// Loads `path`, binding every symbolic dimension named `T` to `frames`. `weightStorage`
    /// `.float16` halves the weight memory traffic at some accuracy cost (see SessionOptions).
    public init(path: String, frames: Int, slowInputs: Set<String> = [],
                weightStorage: WeightStorage = .float32) throws(RuntimeError) {
        let model: ONNXModel
        do { model = try ONNXModel.load(path: path) } catch { throw RuntimeError(.format, error.description) }
        let initNames = Set(model.graph.initializers.map(\.name))
        var shapes: [String: [Int]] = [:]
        for input in model.graph.inputs where !initNames.contains(input.name) {
            guard let dims = input.shape else { continue }
            var concrete: [Int] = []
            var symbolic = false
            for d in dims {
                switch d {
                case .value(let v): concrete.append(v)
                case .param(let p) where p == "T": concrete.append(frames); symbolic = true
                default:
                    throw RuntimeError(.binding, "\(path): input '\(input.name)' has dimension \(d), only 'T' may be symbolic in a streaming model")
                }
            }
            if symbolic { shapes[input.name] = concrete }
        }
        // Slow inputs the model does not have are simply not applicable to it.
        let present = Set(model.graph.inputs.map(\.name)).subtracting(initNames)
        self.session = try InferenceSession(model: model, options: SessionOptions(inputShapes: shapes, slowInputs: slowInputs.intersection(present),
                                                                           weightStorage: weightStorage))
        self.frames = frames
        var pairs: [(Int, Int)] = []
        var k = 0
        while let i = session.inputIndex("state_in_\(k)") {
            guard let o = session.outputIndex("state_out_\(k)") else {
                throw RuntimeError(.binding, "\(path): input state_in_\(k) has no matching output state_out_\(k)")
            }
            guard session.inputs[i].shape == session.outputs[o].shape else {
                throw RuntimeError(.binding, "\(path): state_in_\(k) \(session.inputs[i].shape) and state_out_\(k) \(session.outputs[o].shape) differ")
            }
            pairs.append((i, o))
            k += 1
        }
        self.statePairs = pairs
        resetState()
    }

    /// Zeroes every state input (start of a stream).
    public func resetState() {
        for (i, _) in statePairs {
            let b = session.inputs[i]
            b.data.initializeMemory(as: UInt8.self, repeating: 0, count: b.byteCount)
        }
    }

    /// Takes over `other`'s stream state: copies its state inputs into this model's (the models
    /// must have the same state shapes: the same model compiled for any frame count). Real-time safe.
    public func copyStates(from other: StreamingModel) {
        for k in 0..<min(statePairs.count, other.statePairs.count) {
            let dst = session.inputs[statePairs[k].input]
            let src = other.session.inputs[other.statePairs[k].input]
            dst.data.copyMemory(from: src.data, byteCount: min(dst.byteCount, src.byteCount))
        }
    }

    /// Runs one call and makes its output states the next call's input states. Real-time safe.
    public func step() {
        session.run()
        for (i, o) in statePairs { session.swapState(input: i, output: o) }
    }

    /// The float32 storage of the named input (checked at load by the caller).
    public func input(_ name: String) -> TensorBuffer? { session.inputIndex(name).map { session.inputs[$0] } }

    /// The float32 storage of the named output.
    public func output(_ name: String) -> TensorBuffer? { session.outputIndex(name).map { session.outputs[$0] } }
}
