import ArgumentParser
import Foundation
import TMRVCAudioIO
import TMRVCConstants
import TMRVCEngine

/// `tmrvc enroll ref1.wav ref2.wav ... -o voice.tmrvc_speaker`.
struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a speaker file from reference recordings (speaker_encoder.onnx, run in Swift).",
        discussion: """
        Each recording (any format libsndfile reads, any rate, mixed down to mono) is turned into the
        contract's log-mel and embedded by speaker_encoder.onnx; embeddings are averaged weighted by
        duration and L2-normalised. The LoRA delta is zero (few-shot adaptation in tools/ fits one).
        The file is written atomically.
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
            var bar = ProgressBar(total: references.count, label: "enrolling")
            for (i, path) in references.enumerated() {
                let audio: AudioBuffer
                do { audio = try AudioFile.read(path: path) } catch { throw CLIError(error.description) }
                do {
                    let mel = try SpeakerEnrollment.logMel(samples: audio.samples, sampleRate: audio.sampleRate)
                    let e = try SpeakerEnrollment.embedding(logMel: mel, modelsDirectory: dir)
                    parts.append((e, mel.count / TMRVCConstants.Dims.mel))
                } catch { throw CLIError("\(path): \(error.reason)") }
                bar.update(i + 1)
            }
            bar.finish()
            let embedding = SpeakerEnrollment.combine(parts)
            let sources = references.map { "\"" + (($0 as NSString).lastPathComponent).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            let speakerName = (name ?? ((output as NSString).lastPathComponent as NSString).deletingPathExtension)
                .replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            let meta = "{\"created_by\":\"tmrvc enroll\",\"frames\":\(parts.reduce(0) { $0 + $1.frames }),\"name\":\"\(speakerName)\",\"sources\":[\(sources.joined(separator: ","))]}"
            let profile = SpeakerProfile(embedding: embedding, loraDelta: [Float](repeating: 0, count: TMRVCConstants.Lora.deltaSize),
                                         voiceSourcePreset: nil, metadataJSON: meta)
            do { try profile.write(to: output) } catch { throw CLIError(error.description) }
            print("wrote \(output): embedding of \(parts.count) recording(s), \(parts.reduce(0) { $0 + $1.frames }) frames")
        } catch let e as CLIError {
            FileHandle.standardError.write("error: \(e)\n".data(using: .utf8)!)
            throw ExitCode.failure
        }
    }
}
