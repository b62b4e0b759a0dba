import Foundation

/// Finds the shipped `weights/` directory when `--models` is not given: `./weights`, then the
/// repository the executable was built in (`.build/<config>/tmrvc` -> `../../weights`). For the
/// command-line tools (`tmrvc`, `tmrvc-bench`).
public enum ModelLocation {
    public static func resolve(_ given: String?) throws -> String {
        let fm = FileManager.default
        if let given {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: given, isDirectory: &isDir), isDir.boolValue else {
                throw CLIError("\(given): models directory not found")
            }
            return given
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates = [fm.currentDirectoryPath + "/weights"]
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("weights").path)
            dir = dir.deletingLastPathComponent()
        }
        for c in candidates where fm.fileExists(atPath: c + "/converter.onnx") { return c }
        throw CLIError("no models found (looked in \(candidates.joined(separator: ", "))); pass --models DIR")
    }
}

/// A command-line failure with a message for the user (exit status 1).
public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
