import Foundation

/// Runs the built `adobe-target-destination` executable, as operators and outside test suites do.
enum Executable {
    /// The product sits beside the test bundle in `.build/<configuration>/`.
    static var url: URL {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("adobe-target-destination")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/adobe-target-destination")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
        currentDirectory: URL? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for name in ["PORT", "DATA_DIR", "LOG_LEVEL", "ADOBE_TARGET_CLIENT_CODE", "ADOBE_TARGET_BEARER_TOKEN",
            "ADOBE_TARGET_BASE_URL", "SEGMENT_SHARED_SECRET", "SEGMENT_WRITE_KEYS", "ADMIN_TOKEN", "DATABASE_URL", "REPLICA_ID"]
        {
            env[name] = nil
        }
        env.merge(environment) { $1 }
        process.environment = env
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        // Files, not pipes: nothing can fill up and block the child, and reading them
        // afterwards is immune to EINTR from SIGCHLD.
        let scratch = try TemporaryDirectory()
        let outURL = scratch.url.appendingPathComponent("stdout")
        let errURL = scratch.url.appendingPathComponent("stderr")
        let inURL = scratch.url.appendingPathComponent("stdin")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: inURL.path, contents: Data((stdin ?? "").utf8))
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = try FileHandle(forReadingFrom: inURL)
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

/// A temporary directory removed when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("atd-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ contents: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try Data(contents.utf8).write(to: file)
        return file.path
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The repository root, for reading Config/, the Dockerfile and the Makefile.
enum Repository {
    static var root: URL {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory
            }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }

    /// The shared sample events, which sit beside the repository (`../shared/samples`) in a
    /// checkout and one level further up in a worktree of the project's workspace.
    private static var sampleDirectories: [URL] {
        [
            root.deletingLastPathComponent().appendingPathComponent("shared/samples"),
            root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/samples"),
        ]
    }

    /// The path of the shared sample `name`; when it is missing, the error says where it was
    /// looked for, rather than a command under test failing on a file that is not there.
    static func samplePath(_ name: String) throws -> String {
        let candidates = sampleDirectories.map { $0.appendingPathComponent(name).path }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw MissingSample(description: """
                the sample \(name) is at none of \(candidates.joined(separator: ", ")); the tests read the \
                project's shared/samples beside the repository: clone the repository next to shared/
                """)
        }
        return found
    }

    struct MissingSample: Error, CustomStringConvertible {
        var description: String
    }
}
