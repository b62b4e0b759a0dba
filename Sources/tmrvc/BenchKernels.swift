import Foundation

/// Kernel microbenchmarks (filled in below).
enum BenchKernels {
    struct Output { var text: String; var json: [String: Any] }
    static func run() -> Output { Output(text: "", json: [:]) }
}
