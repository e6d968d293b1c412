import Foundation
import JSONKit
import Logging

/// Sets up swift-log for the process: human lines on stderr by default, JSON lines with
/// `LOG_FORMAT=json` (for log shippers).
public enum LoggingSetup {
    public enum Format: String, Sendable {
        case text
        case json
    }

    public static func format(from environment: [String: String]) -> Format {
        environment["LOG_FORMAT"]?.lowercased() == "json" ? .json : .text
    }

    /// Call once, before any logger is made.
    public static func bootstrap(format: Format, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .text: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLinesLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object a line on stderr: `{"ts":…,"level":…,"label":…,"message":…,<metadata>}`.
public struct JSONLinesLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable ([UInt8]) -> Void

    public init(label: String, write: @escaping @Sendable ([UInt8]) -> Void = JSONLinesLogHandler.writeToStandardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object = JSONObject()
        object["ts"] = .string(Self.timestamp())
        object["level"] = .string(event.level.rawValue)
        object["label"] = .string(label)
        object["message"] = .string(event.message.description)
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() {
            if let value = merged[key] { object[key] = Self.json(value) }
        }
        var line = JSONSerializer.serialize(.object(object))
        line.append(UInt8(ascii: "\n"))
        write(line)
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let string): return .string(string)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let array): return .array(array.map(json))
        case .dictionary(let dictionary):
            return .object(JSONObject(dictionary.keys.sorted().map { ($0, json(dictionary[$0]!)) }))
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }

    public static let writeToStandardError: @Sendable ([UInt8]) -> Void = { bytes in
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
