import ArgumentParser
import ONNXFormat
import TMRVCRuntime

@main
struct TMRVC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tmrvc",
        abstract: "TMRVC: real-time voice conversion with a pure-Swift ONNX runtime.",
        subcommands: [Bench.self, Convert.self, Enroll.self, Inspect.self, Live.self, Parity.self])
}
