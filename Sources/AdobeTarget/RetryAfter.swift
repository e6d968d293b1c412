/// Reads `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
public enum RetryAfter {
    /// Seconds to wait, or `nil` when the value is neither form. A date in the past gives 0.
    /// - Parameter now: seconds since 1970 (Unix time) at which the answer arrived.
    public static func seconds(from value: String, now: Double) -> Double? {
        let trimmed = value.trimmingSpaces()
        guard !trimmed.isEmpty else { return nil }
        if trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // Absurdly long numbers saturate rather than fail: the sender meant "a long time".
            return Double(trimmed) ?? Double(Int.max)
        }
        guard let date = httpDate(trimmed) else { return nil }
        return max(0, date - now)
    }

    /// Unix time of an HTTP-date in any of the three forms RFC 9110 asks recipients to accept:
    /// `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`.
    public static func httpDate(_ text: String) -> Double? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        var day: Int?
        var month: Int?
        var year: Int?
        var clock: (Int, Int, Int)?
        switch tokens.count {
        case 4 where tokens[3] == "GMT" && tokens[1].contains("-"):
            // RFC 850: weekday, dd-Mon-yy time GMT
            let parts = tokens[1].split(separator: "-").map(String.init)
            guard parts.count == 3 else { return nil }
            day = Int(parts[0])
            month = monthNumber(parts[1])
            if let twoDigit = Int(parts[2]), parts[2].count == 2 {
                // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
                year = twoDigit < 70 ? 2000 + twoDigit : 1900 + twoDigit
            }
            clock = timeOfDay(tokens[2])
        case 6 where tokens[5] == "GMT":
            // IMF-fixdate: weekday, dd Mon yyyy time GMT
            day = Int(tokens[1])
            month = monthNumber(tokens[2])
            year = Int(tokens[3])
            clock = timeOfDay(tokens[4])
        case 5:
            // asctime: weekday Mon d time yyyy
            month = monthNumber(tokens[1])
            day = Int(tokens[2])
            clock = timeOfDay(tokens[3])
            year = Int(tokens[4])
        default:
            return nil
        }
        guard let day, let month, let year, let clock, (1...31).contains(day), year >= 1900 else { return nil }
        let days = daysSince1970(year: year, month: month, day: day)
        return Double(days * 86_400 + clock.0 * 3600 + clock.1 * 60 + clock.2)
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    private static func monthNumber(_ name: String) -> Int? {
        months.firstIndex(of: name.lowercased()).map { $0 + 1 }
    }

    private static func timeOfDay(_ text: String) -> (Int, Int, Int)? {
        let parts = text.split(separator: ":")
        guard parts.count == 3, let hour = Int(parts[0]), let minute = Int(parts[1]), let second = Int(parts[2]),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        return (hour, minute, second)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    private static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let adjustedYear = month <= 2 ? year - 1 : year
        let era = (adjustedYear >= 0 ? adjustedYear : adjustedYear - 399) / 400
        let yearOfEra = adjustedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension String {
    func trimmingSpaces() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
