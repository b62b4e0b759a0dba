import Foundation
import TMRVCRuntime

/// Offline throughput (filled in below).
enum BenchOffline {
    struct Output { var text: String; var json: [String: Any] }
    static func run(directory: String, seconds: Double, storage: WeightStorage) throws -> Output { Output(text: "", json: [:]) }
}
