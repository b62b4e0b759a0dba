import ArgumentParser
import Foundation
import TMRVCAudioIO
import TMRVCConstants
import TMRVCEngine
import TMRVCTooling

/// `tmrvc enroll ref1.wav ref2.wav ... -o voice.tmrvc_speaker`.
struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a speaker file from reference recordings (speaker_encoder.onnx, run in Swift).",
        discussion: """
        Each recording (any format libsndfile reads, any rate, mixed down to mono) is turned into the
        contract's log-mel and embedded by speaker_encoder.onnx; embeddings are averaged weighted by
        duration and L2-normalised. The LoRA delta is zero (few-shot adaptation in tools/ fits one).
        The speaker's register (mean and standard deviation of log2(f0 / 200 Hz) over the voiced
        frames of all recordings, the engine's pitch estimator) is stored for the engine's automatic
        register mapping; at least 10 voiced frames (0.1 s of voiced speech) are needed.
        The file (format version 2) is written atomically.
        """)

    @Argument(help: "Reference recordings of the target speaker.")
    var references: [String]

    @Option(name: .shortAndLong, help: "Output .tmrvc_speaker file.")
    var output: String

    @Option(help: "Name stored in the file's metadata.")
    var name: String?

    @Option(help: "Directory with the ONNX models (default: the shipped weights/).")
    var models: String?

    func validate() throws {
        guard !references.isEmpty else { throw ValidationError("give at least one reference recording") }
    }

    func run() throws {
        do {
            let dir = try ModelLocation.resolve(models)
            var parts: [(embedding: [Float], frames: Int)] = []
            var voicedF0: [Double] = []
            var bar = ProgressBar(total: references.count, label: "enrolling")
            for (i, path) in references.enumerated() {
                let audio: AudioBuffer
                do { audio = try AudioFile.read(path: path) } catch { throw CLIError(error.description) }
                do {
                    let x = try SpeakerEnrollment.resampled(samples: audio.samples, sampleRate: audio.sampleRate)
                    let mel = try SpeakerEnrollment.logMel(samples24k: x)
                    let e = try SpeakerEnrollment.embedding(logMel: mel, modelsDirectory: dir)
                    parts.append((e, mel.count / TMRVCConstants.Dims.mel))
                    voicedF0 += SpeakerEnrollment.voicedF0(samples24k: x)
                } catch { throw CLIError("\(path): \(error.reason)") }
                bar.update(i + 1)
            }
            bar.finish()
            let embedding = SpeakerEnrollment.combine(parts)
            let pitchStatistics: PitchStatistics
            do { pitchStatistics = try SpeakerEnrollment.pitchStatistics(voicedF0: voicedF0) } catch {
                throw CLIError("\(references.joined(separator: ", ")): \(error.reason)")
            }
            let sources = references.map { "\"" + (($0 as NSString).lastPathComponent).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            let speakerName = (name ?? ((output as NSString).lastPathComponent as NSString).deletingPathExtension)
                .replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            let meta = "{\"created_by\":\"tmrvc enroll\",\"frames\":\(parts.reduce(0) { $0 + $1.frames }),\"name\":\"\(speakerName)\",\"sources\":[\(sources.joined(separator: ","))]}"
            let profile = SpeakerProfile(embedding: embedding, loraDelta: [Float](repeating: 0, count: TMRVCConstants.Lora.deltaSize),
                                         voiceSourcePreset: nil, metadataJSON: meta, pitchStatistics: pitchStatistics)
            do { try profile.write(to: output) } catch { throw CLIError(error.description) }
            let meanHz = TMRVCConstants.Pitch.f0RefHz * pow(2, Double(pitchStatistics.mean))
            print("wrote \(output): embedding of \(parts.count) recording(s), \(parts.reduce(0) { $0 + $1.frames }) frames; "
                  + "register \(String(format: "%.1f", meanHz)) Hz (log2 std \(String(format: "%.3f", pitchStatistics.std)) over \(voicedF0.count) voiced frames)")
        } catch let e as CLIError {
            FileHandle.standardError.write("error: \(e)\n".data(using: .utf8)!)
            throw ExitCode.failure
        }
    }
}
