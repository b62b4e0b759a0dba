import ArgumentParser
import Foundation
import TMRVCEngine
import TMRVCKernels
import TMRVCRuntime
import TMRVCTooling

/// `tmrvc-bench` (also run by `tmrvc bench`): per-frame latency of the streaming models and the
/// whole per-frame pipeline, side by side with ONNX Runtime (run as a subprocess in the same
/// command), kernel microbenchmarks against their baselines, offline throughput, and a
/// per-op-type profile. A separate executable so the shipped `tmrvc` links no test code.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tmrvc-bench",
        abstract: "Benchmark the Swift runtime against ONNX Runtime (latency per frame, kernels, throughput).",
        discussion: """
        Single thread. Every figure is measured in this command, so ratios compare runs made under the
        same machine load (the absolute numbers move with the load; the ratios much less). Inputs are
        deterministic noise N(0,1)*0.5; states start at zero and are fed back every frame. The converter
        runs with its slow inputs (speaker, LoRA, acoustic parameters) hoisted and invalidated every
        10 frames, as in the engine; the IR estimator runs every 10th frame (its per-frame cost is
        amortised over 10 frames). ONNX Runtime runs tools/tmrvc/bench_ort.py (CPU EP, 1 thread,
        all graph optimisations, IOBinding) with .venv/bin/python when present, else python3.
        """)

    @Option(help: "Timed frames per model (after warm-up).")
    var frames = 20_000

    @Option(help: "Warm-up frames per model.")
    var warmup = 500

    @Option(help: "Directory with the ONNX models (default: the shipped weights/).")
    var models: String?

    @Flag(name: .customLong("no-ort"), help: "Skip the ONNX Runtime side.")
    var noORT = false

    @Option(help: "Weight storages of the Swift side, comma separated (one table): fp32, fp16, int8 (converted at load; fp32 arithmetic).")
    var precision = "fp32"

    @Option(help: "Python interpreter for the ONNX Runtime side (default: .venv/bin/python, else python3).")
    var python: String?

    @Option(help: "Write machine-readable results to this JSON file.")
    var json: String?

    @Option(help: "Sections to run, comma separated: models, kernels, offline, profile.")
    var sections = "models,kernels,offline,profile"

    @Option(help: "Seconds of 24 kHz audio for the offline throughput test.")
    var offlineSeconds = 20.0

    func validate() throws {
        guard frames >= 100 else { throw ValidationError("--frames must be >= 100") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be >= 0") }
        for p in precision.split(separator: ",") where WeightStorage(label: String(p)) == nil {
            throw ValidationError("unknown precision '\(p)' (known: fp32, fp16, int8)")
        }
        let known: Set<String> = ["models", "kernels", "offline", "profile"]
        for s in sections.split(separator: ",") where !known.contains(String(s)) {
            throw ValidationError("unknown section '\(s)' (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    func run() throws {
        do { try benchmark() } catch let e as CLIError {
            FileHandle.standardError.write("error: \(e)\n".data(using: .utf8)!)
            throw ExitCode.failure
        }
    }

    func benchmark() throws {
        let dir = try ModelLocation.resolve(models)
        let want = Set(sections.split(separator: ",").map(String.init))
        var report: [String: Any] = ["machine": BenchMachine.describe(), "frames": frames, "warmup": warmup]
        var storages: [WeightStorage] = precision.split(separator: ",").compactMap { WeightStorage(label: String($0)) }
        if storages.isEmpty { storages = [.float32] }
        print(BenchMachine.summary())
        fflush(nil)

        if want.contains("models") {
            var ort: ORTResult?, ortInt8: ORTResult?
            // ONNX Runtime's own INT8 files, kept for the Swift runtime to run too (the same files).
            let ortInt8Files = FileManager.default.temporaryDirectory.appendingPathComponent("tmrvc-ort-int8-\(getpid())").path
            defer { try? FileManager.default.removeItem(atPath: ortInt8Files) }
            if !noORT {
                ort = try runORT(modelsDirectory: dir)
                if let ort { report["onnxruntime"] = ort.raw }
                if storages.contains(.int8) {
                    ortInt8 = try runORT(modelsDirectory: dir, int8Files: ortInt8Files)
                    if let ortInt8 { report["onnxruntime_int8"] = ortInt8.raw }
                }
            }
            var swiftResults: [String: [String: LatencyStats]] = [:]
            for storage in storages {
                let r = try BenchModels.run(directory: dir, frames: frames, warmup: warmup, storage: storage)
                swiftResults[storage.label] = r
            }
            var order = storages.map(\.label)
            if ortInt8 != nil {
                // The Swift runtime on ORT's quantised files (DynamicQuantizeLinear + MatMulInteger /
                // ConvInteger, run as stored); its constant bytes are not the ones the table states.
                let constants = BenchModels.perRunConstantBytes
                swiftResults[BenchModels.ortInt8FilesLabel] = try BenchModels.run(directory: ortInt8Files, frames: frames, warmup: warmup,
                                                                                 storage: .float32)
                BenchModels.perRunConstantBytes = constants
                order.append(BenchModels.ortInt8FilesLabel)
            }
            print(BenchModels.table(swift: swiftResults, order: order, ort: ort, ortInt8: ortInt8))
            fflush(nil)
            report["swift"] = swiftResults.mapValues { $0.mapValues { $0.json } }
            report["per_run_constant_bytes"] = BenchModels.perRunConstantBytes
        }
        if want.contains("profile") {
            for storage in storages {
                let p = try BenchProfile.run(directory: dir, frames: min(frames, 5000), storage: storage)
                print(p.text)
                fflush(nil)
                report["profile_\(storage.label)"] = p.json
            }
        }
        if want.contains("kernels") {
            let k = BenchKernels.run()
            print(k.text)
            fflush(nil)
            report["kernels"] = k.json
        }
        if want.contains("offline") {
            for storage in storages {
                let o = try BenchOffline.run(directory: dir, seconds: offlineSeconds, storage: storage)
                print(o.text)
                fflush(nil)
                report["offline_\(storage.label)"] = o.json
            }
        }
        if let json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            do { try data.write(to: URL(fileURLWithPath: json), options: .atomic) } catch {
                throw CLIError("\(json): cannot write (\(error.localizedDescription))")
            }
            print("wrote \(json)")
        }
    }

    /// Runs bench_ort.py (with `int8Files`: on ONNX Runtime's own dynamic-INT8 versions of the
    /// models, written to that folder); nil (with a message) when Python or onnxruntime is unavailable.
    func runORT(modelsDirectory dir: String, int8Files: String? = nil) throws -> ORTResult? {
        let int8 = int8Files != nil
        let fm = FileManager.default
        let repo = URL(fileURLWithPath: dir).standardizedFileURL.deletingLastPathComponent().path
        let tools = repo + "/tools"
        guard fm.fileExists(atPath: tools + "/tmrvc/bench_ort.py") else {
            print("note: \(tools)/tmrvc/bench_ort.py not found; ONNX Runtime side skipped")
            return nil
        }
        let py = python ?? (fm.isExecutableFile(atPath: repo + "/.venv/bin/python") ? repo + "/.venv/bin/python" : "/usr/bin/env")
        var args = ["-m", "tmrvc.bench_ort", "--weights", dir, "--frames", String(frames), "--warmup", String(warmup)]
        if let int8Files { args += ["--int8", "--int8-out", int8Files] }
        if py == "/usr/bin/env" { args = ["python3"] + args }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: py)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: tools)
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = "1"
        env["OPENBLAS_NUM_THREADS"] = "1"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        FileHandle.standardError.write("running ONNX Runtime side (\(py == "/usr/bin/env" ? "python3" : py) -m tmrvc.bench_ort\(int8 ? " --int8" : ""), \(frames) frames per model)...\n".data(using: .utf8)!)
        do { try p.run() } catch {
            print("note: cannot start \(py): \(error.localizedDescription); ONNX Runtime side skipped")
            return nil
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            let msg = String(decoding: errData, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
            print("note: the ONNX Runtime side failed (status \(p.terminationStatus)): \(msg)")
            return nil
        }
        return ORTResult(raw: obj)
    }
}

/// Latency statistics in microseconds.
struct LatencyStats {
    var n = 0, min = 0.0, median = 0.0, p99 = 0.0, p999 = 0.0, max = 0.0, mean = 0.0
    /// For a loop with a periodic schedule (the pipeline's IR cycle): the median of the frames at
    /// each position of the cycle, `cycleMedians[i]` over frames k with k % period == i. Medians
    /// of thousands of frames each hardly move with the machine's load, so the slowest position
    /// against the overall median shows the tail the schedule itself builds in (the part of
    /// p99.9 that a quiet machine would still see). Empty for loops without a cycle.
    var cycleMedians: [Double] = []

    /// Order statistics as bench_ort.py computes them (index round(p * (n - 1)) of the sorted samples).
    init(_ samples: [Double]) {
        let a = samples.sorted()
        n = a.count
        guard n > 0 else { return }
        min = a[0]; median = Self.quantile(a, 0.5); p99 = Self.quantile(a, 0.99); p999 = Self.quantile(a, 0.999); max = a[n - 1]
        mean = a.reduce(0, +) / Double(n)
    }

    /// Statistics of `samples` plus the median at each position of a cycle of `period` frames
    /// (sample k is at position k % period).
    init(_ samples: [Double], period: Int) {
        self.init(samples)
        guard period > 1 else { return }
        cycleMedians = (0..<period).map { i in
            Self.quantile(stride(from: i, to: samples.count, by: period).map { samples[$0] }.sorted(), 0.5)
        }
    }

    /// Index round(p * (n - 1)) of the sorted samples `a` (0 when empty).
    private static func quantile(_ a: [Double], _ p: Double) -> Double {
        a.isEmpty ? 0 : a[Swift.min(a.count - 1, Int((p * Double(a.count - 1)).rounded()))]
    }

    /// The slowest cycle position's median over the overall median (nil without a cycle).
    var slowestCycleRatio: Double? {
        guard let worst = cycleMedians.max(), median > 0 else { return nil }
        return worst / median
    }

    init(json: [String: Any]) {
        func v(_ k: String) -> Double { (json[k] as? Double) ?? Double((json[k] as? Int) ?? 0) }
        n = (json["n"] as? Int) ?? 0
        min = v("min_us"); median = v("median_us"); p99 = v("p99_us"); p999 = v("p999_us"); max = v("max_us"); mean = v("mean_us")
    }

    var json: [String: Any] {
        var j: [String: Any] = ["n": n, "min_us": min, "median_us": median, "p99_us": p99, "p999_us": p999, "max_us": max,
                                "mean_us": mean]
        if !cycleMedians.isEmpty { j["cycle_median_us"] = cycleMedians }
        return j
    }

    /// Every statistic divided by `k` (amortisation).
    func scaled(_ k: Double) -> LatencyStats {
        var s = self
        s.min /= k; s.median /= k; s.p99 /= k; s.p999 /= k; s.max /= k; s.mean /= k
        s.cycleMedians = s.cycleMedians.map { $0 / k }
        return s
    }
}

/// The ONNX Runtime side's JSON.
struct ORTResult {
    let raw: [String: Any]
    var version: String { raw["onnxruntime"] as? String ?? "?" }
    func stats(_ model: String) -> LatencyStats? {
        if model == "identity" { return (raw["identity"] as? [String: Any]).map(LatencyStats.init(json:)) }
        if model == "pipeline" { return (raw["pipeline"] as? [String: Any]).map(LatencyStats.init(json:)) }
        return ((raw["models"] as? [String: Any])?[model] as? [String: Any]).map(LatencyStats.init(json:))
    }
}

/// Monotonic microseconds.
@inline(__always) func benchNowMicroseconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e6 + Double(ts.tv_nsec) / 1e3
}

/// Deterministic N(0,1) noise (SplitMix64 + Box-Muller).
struct BenchNoise {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func nextUInt() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(nextUInt() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
    mutating func normal() -> Float {
        let u1 = Swift.max(uniform(), 1e-300), u2 = uniform()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
    mutating func fill(_ p: UnsafeMutablePointer<Float>, _ n: Int, scale: Float = 0.5) {
        for i in 0..<n { p[i] = normal() * scale }
    }
}

/// Machine facts for the report.
enum BenchMachine {
    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    static func cpuModel() -> String {
        for line in read("/proc/cpuinfo").split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
        }
        return "?"
    }

    static func flags() -> [String] {
        for line in read("/proc/cpuinfo").split(separator: "\n") where line.hasPrefix("flags") {
            let all = Set(line.split(separator: " ").map(String.init))
            return ["avx2", "fma", "f16c", "avx512f"].filter { all.contains($0) }
        }
        return []
    }

    /// Data and unified caches of CPU 0 from sysfs, e.g. "L1d 48K, L2 2048K, L3 307200K" (state
    /// them beside every timing: the same VM kind has shown 16 MB and 32 MB of L3).
    static func caches() -> String {
        var parts: [String] = []
        for i in 0..<8 {
            let dir = "/sys/devices/system/cpu/cpu0/cache/index\(i)/"
            let type = read(dir + "type").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !type.isEmpty else { break }
            if type == "Instruction" { continue }
            let level = read(dir + "level").trimmingCharacters(in: .whitespacesAndNewlines)
            let size = read(dir + "size").trimmingCharacters(in: .whitespacesAndNewlines)
            parts.append("L\(level)\(type == "Data" ? "d" : "") \(size)")
        }
        return parts.isEmpty ? "caches unknown" : parts.joined(separator: ", ")
    }

    static func loadAverage() -> String {
        read("/proc/loadavg").split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func describe() -> [String: Any] {
        ["cpu": cpuModel(), "cpus": ProcessInfo.processInfo.activeProcessorCount, "flags": flags(),
         "load_average": loadAverage(), "caches": caches(), "kernels": KernelSet.active.name,
         "memory_gib": Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)]
    }

    static func summary() -> String {
        "machine: \(cpuModel()), \(ProcessInfo.processInfo.activeProcessorCount) CPUs (\(flags().joined(separator: " "))), \(caches()), kernels \(KernelSet.active.name), load average \(loadAverage())"
    }
}

/// Formatting helpers.
func benchPad(_ s: String, _ n: Int, right: Bool = false) -> String {
    if s.count >= n { return s }
    let fill = String(repeating: " ", count: n - s.count)
    return right ? fill + s : s + fill
}

func benchFormat(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }
