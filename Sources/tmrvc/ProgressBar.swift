import Foundation

/// A progress bar on standard error, drawn only when it is a terminal.
struct ProgressBar {
    let total: Int
    let label: String
    /// On a terminal: a bar redrawn in place.
    let terminal = isatty(2) != 0
    /// Elsewhere (logs, pipelines): a line per 10 % when `lines` was asked for.
    let lines: Bool
    private var lastPercent = -1

    init(total: Int, label: String, lines: Bool = false) {
        self.total = max(1, total)
        self.label = label
        self.lines = lines
    }

    mutating func update(_ done: Int) {
        let percent = min(100, done * 100 / total)
        guard percent != lastPercent else { return }
        if terminal {
            let width = 30
            let filled = width * percent / 100
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write("\r\(label) [\(bar)] \(percent)%".data(using: .utf8)!)
        } else if lines, percent / 10 != max(0, lastPercent) / 10 || lastPercent < 0 {
            FileHandle.standardError.write("\(label): \(percent)%\n".data(using: .utf8)!)
        }
        lastPercent = percent
    }

    func finish() {
        guard terminal else { return }
        FileHandle.standardError.write("\n".data(using: .utf8)!)
    }
}
