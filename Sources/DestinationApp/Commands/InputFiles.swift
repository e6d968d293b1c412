import Foundation
import JSONKit

/// Reads a command's input file, `-` meaning standard input.
enum InputFile {
    static func read(_ path: String, purpose: String) throws(CommandFailure) -> [UInt8] {
        if path == "-" {
            return try readStandardInput(purpose: purpose)
        }
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CommandFailure("cannot read the \(purpose) file \(path): \(ConfigurationLoader.describe(error))")
        }
    }

    /// `FileHandle.readDataToEndOfFile` traps on EINTR, so read with `read(2)` and retry.
    private static func readStandardInput(purpose: String) throws(CommandFailure) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Foundation.read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                return bytes
            } else if errno != EINTR {
                throw CommandFailure("cannot read the \(purpose) from standard input: \(String(cString: strerror(errno)))")
            }
        }
    }

    static func readJSON(_ path: String, purpose: String) throws(CommandFailure) -> JSONValue {
        let bytes = try read(path, purpose: purpose)
        do {
            return try JSONParser().parse(bytes)
        } catch {
            throw CommandFailure("the \(purpose) \(path == "-" ? "on standard input" : path) is not valid JSON: \(error.description)")
        }
    }
}

/// A one-line reason printed on stderr, then exit 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

enum StandardStreams {
    static func writeOut(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    static func writeOut(_ text: String) {
        writeOut(Array(text.utf8))
    }

    static func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Prints the reason on stderr as one line and exits 1, as the contract asks of `map` and `match`.
    static func fail(_ reason: String) -> Never {
        let oneLine = reason.split(whereSeparator: \.isNewline).joined(separator: "; ")
        writeError("error: \(oneLine)\n")
        exit(1)
    }
}
