import ArgumentParser
import Foundation
import TMRVCTooling

/// `tmrvc bench ...`: runs the benchmark executable `tmrvc-bench` (Benchmarks/TMRVCBench, built
/// next to `tmrvc` by `swift build`) with the same arguments, so the shipped CLI links no
/// benchmark or test code.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark the Swift runtime against ONNX Runtime (runs tmrvc-bench; `tmrvc-bench --help` lists its options).")

    @Argument(parsing: .allUnrecognized, help: "Arguments for tmrvc-bench.")
    var arguments: [String] = []

    func run() throws {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let bench = exe.deletingLastPathComponent().appendingPathComponent("tmrvc-bench").path
        guard FileManager.default.isExecutableFile(atPath: bench) else {
            FileHandle.standardError.write("error: \(bench) not found: build it with `swift build -c release --product tmrvc-bench`\n".data(using: .utf8)!)
            throw ExitCode.failure
        }
        var argv: [UnsafeMutablePointer<CChar>?] = ([bench] + arguments).map { strdup($0) } + [nil]
        execv(bench, &argv)
        FileHandle.standardError.write("error: \(bench): cannot run (\(String(cString: strerror(errno))))\n".data(using: .utf8)!)
        throw ExitCode.failure
    }
}
