import Foundation
import TMRVCEngine
import TMRVCRuntime

/// Where the per-frame time goes: the session's profiling mode (two clock reads around every
/// kernel) over the per-frame pipeline, summed per op type and per model.
enum BenchProfile {
    struct Output {
        var text: String
        var json: [String: Any]
    }

    static func run(directory dir: String, frames: Int, storage: WeightStorage) throws -> Output {
        let content = try BenchModels.load(dir, "content_encoder", storage: storage)
        let converter = try BenchModels.load(dir, "converter", storage: storage)
        let vocoder = try BenchModels.load(dir, "vocoder", storage: storage)
        let ir = try BenchModels.loadIR(dir, storage: storage)
        let sessions: [(String, InferenceSession)] = [("content_encoder", content.session), ("converter", converter.session),
                                                      ("vocoder", vocoder.session), ("ir_estimator", ir)]
        for (k, (_, s)) in sessions.enumerated() { BenchModels.fillInputs(s, seed: UInt64(10 + k)) }
        let acousticIndex = converter.session.inputIndex("acoustic_params")!
        func frame(_ k: Int) {
            content.step()
            if k % BenchModels.irInterval == 0 { ir.run(); converter.session.invalidateSlowInput(acousticIndex) }
            converter.step()
            vocoder.step()
        }
        for k in 0..<200 { frame(k) }
        for (_, s) in sessions { s.resetProfile(); s.isProfiling = true }
        let t0 = benchNowMicroseconds()
        for k in 0..<frames { frame(k) }
        let wall = (benchNowMicroseconds() - t0) / Double(frames)
        for (_, s) in sessions { s.isProfiling = false }

        var byOp: [String: Double] = [:]
        var byModel: [String: Double] = [:]
        var byNode: [(String, Double)] = []
        for (name, s) in sessions {
            for p in s.kernelProfile() {
                let us = Double(p.nanoseconds) / 1000 / Double(frames)
                byOp[p.opType, default: 0] += us
                byModel[name, default: 0] += us
                byNode.append(("\(name): \(p.node) (\(p.opType))", us))
            }
        }
        let total = byOp.values.reduce(0, +)
        var lines = ["", "Profile (\(storage.label), \(frames) frames, µs per frame incl. ~40 ns timer per kernel; wall \(benchFormat(wall)) µs/frame, kernels \(benchFormat(total)) µs)"]
        lines.append("  by op type:")
        for (op, us) in byOp.sorted(by: { $0.value > $1.value }) {
            lines.append("    " + benchPad(op, 22) + benchPad(benchFormat(us), 9, right: true) + benchPad(benchFormat(100 * us / total) + " %", 10, right: true))
        }
        lines.append("  by model:")
        for (m, us) in byModel.sorted(by: { $0.value > $1.value }) {
            lines.append("    " + benchPad(m, 22) + benchPad(benchFormat(us), 9, right: true) + benchPad(benchFormat(100 * us / total) + " %", 10, right: true))
        }
        lines.append("  top kernels:")
        for (n, us) in byNode.sorted(by: { $0.1 > $1.1 }).prefix(12) {
            lines.append("    " + benchPad(benchFormat(us, 2), 8, right: true) + "  " + n)
        }
        lines.append("  ir_estimator kernels (µs per call, runs every \(BenchModels.irInterval) frames):")
        for p in ir.kernelProfile() where p.runs > 0 {
            lines.append("    " + benchPad(benchFormat(Double(p.nanoseconds) / 1000 / Double(p.runs), 2), 8, right: true) + "  \(p.node) (\(p.opType))")
        }
        let json: [String: Any] = ["frames": frames, "wall_us_per_frame": wall, "kernels_us_per_frame": total,
                                   "by_op_us": byOp, "by_model_us": byModel]
        return Output(text: lines.joined(separator: "\n"), json: json)
    }
}
