import ArgumentParser
import CCPUCheck
import ONNXFormat
import TMRVCRuntime

@main
struct TMRVC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tmrvc",
        abstract: "TMRVC: real-time voice conversion with a pure-Swift ONNX runtime.",
        subcommands: [Bench.self, Convert.self, Enroll.self, Inspect.self, Live.self, Parity.self])

    /// Keeps the CPU check (a C constructor that runs before any Swift code) in the binary.
    static let cpuCheck: Void = tmrvc_cpu_check_linked()
}
