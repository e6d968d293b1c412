/// Parses JSON text (RFC 8259, as `JSON.parse` accepts it) into `JSONValue`, keeping object
/// key order.
///
/// Behaviour, matching JavaScript's `JSON.parse` where JSON allows a choice:
/// - Duplicate keys: the last value wins, at the position of the first occurrence.
/// - Numbers become doubles rounded exactly as `Number(text)` rounds them; a number too
///   large for a double becomes ±infinity (which `JSONSerializer` writes as `null`, as JS does).
/// - A lone surrogate escape (`"\ud800"`) is accepted, as JS accepts it, but Swift strings
///   cannot hold one, so it becomes U+FFFD (the replacement character).
/// - A leading byte order mark is refused, as `JSON.parse` refuses U+FEFF.
///
/// Limits, each reported as a `JSONParseError` (never a crash): nesting depth
/// (`maximumDepth`, checked without recursion), number length (`maximumNumberLength`),
/// well-formed UTF-8 in strings (no overlong forms, no encoded surrogates), no raw control
/// characters in strings, and nothing but whitespace after the value.
public struct JSONParser: Sendable {
    public static let defaultMaximumDepth = 512
    public static let defaultMaximumNumberLength = 1000

    /// How many arrays/objects may be open at once.
    public var maximumDepth: Int
    /// How many characters one number may have (sign, digits, dot and exponent included).
    public var maximumNumberLength: Int

    public init(
        maximumDepth: Int = JSONParser.defaultMaximumDepth,
        maximumNumberLength: Int = JSONParser.defaultMaximumNumberLength
    ) {
        self.maximumDepth = maximumDepth
        self.maximumNumberLength = maximumNumberLength
    }

    /// Parses UTF-8 bytes held in contiguous memory.
    public func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        try Reader.withScratch { scratch, keyScratch throws(JSONParseError) in
            var reader = Reader(
                base: buffer.baseAddress, count: buffer.count, scratch: scratch, keyScratch: keyScratch,
                maximumDepth: maximumDepth, maximumNumberLength: maximumNumberLength)
            return try reader.parseDocument()
        }
    }

    public func parse(_ buffer: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        try parse(buffer.assumingMemoryBound(to: UInt8.self))
    }

    public func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in try parse(buffer) }
    }

    /// Parses any collection of UTF-8 bytes (`Data`, `ArraySlice`, …); contiguous ones are
    /// read in place.
    public func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer) }
        }
        if let result { return try result.get() }
        return try parse(Array(bytes))
    }

    public func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer) }
        }.get()
    }
}

/// Where a value's text lies in the parsed buffer, and whether that text is exactly what
/// `JSONSerializer.serialize` writes for the parsed value: compact, numbers as JavaScript prints
/// them, no escapes, no repeated keys. Such text can be stored or hashed as it is, without
/// serialising the value again.
public struct JSONTextSpan: Sendable, Hashable {
    /// Byte offsets in the parsed buffer.
    public var range: Range<Int>
    /// `true` only if the text is byte for byte `JSONSerializer.serialize(value)`; `false` may
    /// also mean "not proven" (any escape, for instance, even one the serializer would write).
    public var isCanonical: Bool

    public init(range: Range<Int>, isCanonical: Bool) {
        self.range = range
        self.isCanonical = isCanonical
    }
}

/// A parsed document with the text spans of its batch elements (see `JSONParser.parseWithSpans`).
public struct JSONSpannedDocument: Sendable {
    public var value: JSONValue
    /// The whole value, without the whitespace around it.
    public var document: JSONTextSpan
    /// One span per element of the top-level array, or of the array under the requested member
    /// of a top-level object (the last one, if the member repeats); empty otherwise.
    public var elements: [JSONTextSpan]
}

extension JSONParser {
    /// Parses as `parse(_:)` does, and reports where the document and its batch elements lie in
    /// `buffer`: the elements of a top-level array, or, when the document is an object, of the
    /// array under its member `elementsMember` (e.g. `"batch"`).
    public func parseWithSpans(
        _ buffer: UnsafeBufferPointer<UInt8>, elementsMember: String? = nil
    ) throws(JSONParseError) -> JSONSpannedDocument {
        try Reader.withScratch { scratch, keyScratch throws(JSONParseError) in
            var reader = Reader(
                base: buffer.baseAddress, count: buffer.count, scratch: scratch, keyScratch: keyScratch,
                maximumDepth: maximumDepth, maximumNumberLength: maximumNumberLength)
            reader.recordsSpans = true
            reader.elementsMember = elementsMember
            let value = try reader.parseDocument()
            return JSONSpannedDocument(value: value, document: reader.documentSpan, elements: reader.elementSpans)
        }
    }

    public func parseWithSpans(_ bytes: [UInt8], elementsMember: String? = nil) throws(JSONParseError)
        -> JSONSpannedDocument
    {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in
            try parseWithSpans(buffer, elementsMember: elementsMember)
        }
    }
}

extension JSONValue {
    /// Parses a JSON text with the default limits.
    public init(parsing text: String) throws(JSONParseError) {
        self = try JSONParser().parse(text)
    }

    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        self = try JSONParser().parse(bytes)
    }
}

// MARK: - The reader

private let quote = UInt8(ascii: "\"")
private let backslash = UInt8(ascii: "\\")

/// A key of an object still open, with a hash of its bytes so that duplicate detection
/// compares strings only when the hashes match.
private struct PendingKey {
    var string: String
    var fingerprint: UInt64
}

private struct Frame {
    var valueStart: Int
    var keyStart: Int
    var isObject: Bool
}

/// One parse over one buffer. Arrays and objects are parsed with an explicit stack of open
/// containers rather than recursion, so depth is bounded by `maximumDepth` alone, not by the
/// calling thread's stack size.
private struct Reader: ~Copyable {
    let base: UnsafePointer<UInt8>
    let count: Int
    let maximumDepth: Int
    let maximumNumberLength: Int
    var position = 0

    var frames: ScratchStack<Frame>
    var values: ScratchStack<JSONValue>
    var keys: ScratchStack<PendingKey>
    /// Decoded bytes of the string being read, used only when it has escapes.
    var unescaped = ScratchStack<UInt8>()

    /// Bytes of the caller's stack that the scratch stacks start in. Up to 1 KiB the standard
    /// library allocates it on the stack unconditionally; above that it asks the C library
    /// whether the stack has room, which costs more than the allocations saved. So two blocks
    /// of 1 KiB: frames and values in one, pending keys in the other (one KiB holds 42 keys;
    /// with a third of one, half of the sample events grew the key stack onto the heap).
    static let scratchByteCount = 1024
    static let scratchFrameBytes = 8 * MemoryLayout<Frame>.stride

    @inline(__always)
    static func withScratch<Result>(
        _ body: (UnsafeMutableRawBufferPointer, UnsafeMutableRawBufferPointer) throws(JSONParseError) -> Result
    ) throws(JSONParseError) -> Result {
        try withUnsafeTemporaryAllocation(byteCount: scratchByteCount, alignment: 16) {
            scratch throws(JSONParseError) in
            try withUnsafeTemporaryAllocation(byteCount: scratchByteCount, alignment: 16) {
                keyScratch throws(JSONParseError) in
                try body(scratch, keyScratch)
            }
        }
    }

    /// How many times the text so far departed from `JSONSerializer`'s output (whitespace,
    /// escapes, numbers not written as JavaScript writes them, repeated keys): a span is
    /// canonical when this did not change between its start and its end.
    var departures = 0
    var recordsSpans = false
    var elementsMember: String?
    var documentSpan = JSONTextSpan(range: 0..<0, isCanonical: false)
    var elementSpans: [JSONTextSpan] = []
    var elementStart = 0
    var elementDepartures = 0
    /// `frames.count` while the innermost open container is the array whose element spans are
    /// recorded; -1 when there is none (a compare per value rather than a frame lookup).
    var recordingDepth = -1
    /// Read once per parse: a global's lazy initialiser check costs a call on every access.
    let keyTable = KeyTable.shared
    let buildsSmallStrings = SmallASCIIString.isAvailable

    init(
        base: UnsafePointer<UInt8>?, count: Int, scratch: UnsafeMutableRawBufferPointer,
        keyScratch: UnsafeMutableRawBufferPointer, maximumDepth: Int, maximumNumberLength: Int
    ) {
        let frameBytes = Self.scratchFrameBytes
        frames = ScratchStack(startingIn: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<frameBytes]))
        values = ScratchStack(startingIn: UnsafeMutableRawBufferPointer(rebasing: scratch[frameBytes...]))
        keys = ScratchStack(startingIn: keyScratch)
        // An empty buffer may have no address; any valid pointer will do as nothing is read.
        self.base = base ?? UnsafePointer(bitPattern: 1).unsafelyUnwrapped
        self.count = base == nil ? 0 : count
        self.maximumDepth = maximumDepth
        self.maximumNumberLength = maximumNumberLength
    }

    // MARK: Structure

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if count >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF {
            throw JSONParseError(.byteOrderMark, at: 0)
        }
        skipWhitespace()
        let documentStart = position
        let documentDepartures = departures
        // Set when an object member comes next: its key is read here, at the one call site of
        // `readKeyAndColon`, which is inlined into this loop (see there).
        var expectsKey = false
        while true {
            if expectsKey {
                expectsKey = false
                try readKeyAndColon()
            }
            // A value starts here.
            guard position < count else { throw JSONParseError(.unexpectedEnd, at: position) }
            if frames.count == recordingDepth {
                elementStart = position
                elementDepartures = departures
            }
            var value: JSONValue
            let byte = base[position]
            switch byte {
            case UInt8(ascii: "{"):
                try checkDepth()
                position &+= 1
                skipWhitespace()
                if position < count, base[position] == UInt8(ascii: "}") {
                    position &+= 1
                    value = .object(JSONObject())
                } else {
                    frames.push(Frame(valueStart: values.count, keyStart: keys.count, isObject: true))
                    expectsKey = true
                    continue
                }
            case UInt8(ascii: "["):
                try checkDepth()
                position &+= 1
                skipWhitespace()
                if position < count, base[position] == UInt8(ascii: "]") {
                    if recordsSpans { _ = opensElementArray() }
                    position &+= 1
                    value = .array([])
                } else {
                    let records = recordsSpans && opensElementArray()
                    frames.push(Frame(valueStart: values.count, keyStart: keys.count, isObject: false))
                    if records { recordingDepth = frames.count }
                    continue
                }
            case quote:
                let start = position &+ 1
                let end = firstSpecialByte(from: start)
                if end < count, base[end] == quote {
                    position = end &+ 1
                    value = .string(plainString(at: start, count: end - start))
                } else {
                    let bytes = try readString()
                    value = .string(makeString(bytes.start, count: bytes.count))
                }
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = .number(try readNumber())
            default:
                throw JSONParseError(.unexpectedByte(byte), at: position)
            }

            // A value ended: add it to the open container, closing containers as they end.
            while true {
                guard frames.count > 0 else {
                    documentSpan = JSONTextSpan(range: documentStart..<position, isCanonical: departures == documentDepartures)
                    skipWhitespace()
                    if position != count { throw JSONParseError(.trailingData, at: position) }
                    return value
                }
                let frame = frames[frames.count &- 1]
                values.push(consume value)
                if frames.count == recordingDepth {
                    elementSpans.append(JSONTextSpan(
                        range: elementStart..<position, isCanonical: departures == elementDepartures))
                }
                skipWhitespace()
                guard position < count else { throw JSONParseError(.unexpectedEnd, at: position) }
                let next = base[position]
                position &+= 1
                if next == UInt8(ascii: ",") {
                    skipWhitespace()
                    expectsKey = frame.isObject
                    break
                }
                if frame.isObject, next == UInt8(ascii: "}") {
                    value = .object(closeObject(frame))
                } else if !frame.isObject, next == UInt8(ascii: "]") {
                    value = .array(values.popArray(from: frame.valueStart))
                    if frames.count == recordingDepth { recordingDepth = -1 }
                } else {
                    throw JSONParseError(.unexpectedByte(next), at: position - 1)
                }
                _ = frames.detachTail(from: frames.count &- 1)
            }
        }
    }

    @inline(__always)
    func checkDepth() throws(JSONParseError) {
        if frames.count >= maximumDepth {
            throw JSONParseError(.tooDeep(limit: maximumDepth), at: position)
        }
    }

    /// Whether the array opening here is the one whose element spans are wanted; if so, the
    /// spans of an earlier one (a repeated member, whose last value wins) are dropped.
    mutating func opensElementArray() -> Bool {
        let wanted: Bool
        if frames.count == 0 {
            wanted = true
        } else if frames.count == 1, frames[0].isObject, let elementsMember {
            wanted = utf8Equal(keys[keys.count - 1].string, elementsMember)
        } else {
            wanted = false
        }
        if wanted { elementSpans.removeAll(keepingCapacity: true) }
        return wanted
    }

    @inline(__always)
    mutating func skipWhitespace() {
        // Every byte that can follow whitespace in valid JSON is above 0x20.
        guard position < count, base[position] <= 0x20 else { return }
        // Pretty-printed text puts one space after each colon: skip it without the loop.
        if base[position] == 0x20, position &+ 1 < count, base[position &+ 1] > 0x20 {
            departures &+= 1
            position &+= 1
            return
        }
        skipWhitespaceRun()
    }

    @inline(__always)
    mutating func skipWhitespaceRun() {
        departures &+= 1
        // Space, tab, LF and CR as bits: one test per byte instead of a four-way compare.
        let whitespace: UInt64 = 1 << 0x20 | 1 << 0x0A | 1 << 0x0D | 1 << 0x09
        while position < count {
            let byte = base[position]
            if byte > 0x20 || whitespace & (1 &<< UInt64(truncatingIfNeeded: byte)) == 0 { return }
            position &+= 1
            if byte == 0x0A { skipIndentation() }
        }
    }

    /// Pretty-printed documents indent each line with spaces: count them eight at a time (the
    /// lowest byte that is not a space ends the run), instead of one loop turn per space.
    @inline(__always)
    mutating func skipIndentation() {
        #if _endian(little)
        while position &+ 8 <= count {
            let nonSpaces = UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self) ^ 0x2020_2020_2020_2020
            if nonSpaces != 0 {
                position &+= nonSpaces.trailingZeroBitCount &>> 3
                return
            }
            position &+= 8
        }
        #endif
    }

    /// Reads `"key"` and `:` with the whitespace around them, leaving `position` at the value.
    ///
    /// `@_transparent` because `@inline(__always)` is not honoured here: `parseDocument` is past
    /// the optimiser's caller size limit, so the key path stayed a call (arguments spilled,
    /// fields reloaded after it). Mandatory inlining into its single call site: parse 150.1k ->
    /// 145.6k instructions per sample pass.
    @_transparent
    mutating func readKeyAndColon() throws(JSONParseError) {
        guard position < count else { throw JSONParseError(.unexpectedEnd, at: position) }
        guard base[position] == quote else {
            throw JSONParseError(.unexpectedByte(base[position]), at: position)
        }
        let start = position &+ 1
        let end = firstSpecialByte(from: start)
        if end < count, base[end] == quote {
            // A plain ASCII key, read in place.
            let length = end - start
            position = end &+ 1
            if length <= SmallASCIIString.capacity {
                let words = smallStringWords(at: start, count: length)
                let string = buildsSmallStrings
                    ? SmallASCIIString.make(words, count: length) : makeString(base + start, count: length)
                keys.push(PendingKey(string: string, fingerprint: KeyWords(head: words.0, tail: words.1).hash(length: length)))
            } else {
                // Longer keys are mostly Segment spec keys, whose strings exist already.
                let words = KeyWords(base + start, count: length, readable: count - start)
                let string = keyTable.string(base + start, count: length, words: words)
                    ?? makeString(base + start, count: length)
                keys.push(PendingKey(string: string, fingerprint: words.hash(length: length)))
            }
        } else {
            let bytes = try readString()
            keys.push(PendingKey(
                string: makeString(bytes.start, count: bytes.count),
                fingerprint: Self.keyFingerprint(bytes.start, count: bytes.count)))
        }
        skipWhitespace()
        guard position < count else { throw JSONParseError(.unexpectedEnd, at: position) }
        guard base[position] == UInt8(ascii: ":") else {
            throw JSONParseError(.unexpectedByte(base[position]), at: position)
        }
        position &+= 1
        skipWhitespace()
    }

    mutating func closeObject(_ frame: Frame) -> JSONObject {
        let length = keys.count - frame.keyStart
        let keyBase = keys.detachTail(from: frame.keyStart)
        let valueBase = values.detachTail(from: frame.valueStart)

        var unique = length <= JSONObject.indexThreshold
        if unique {
            // One bit per fingerprint's top six bits: earlier keys are searched only when the
            // bit was seen before, so a typical object costs one test per key, not one per pair.
            var seen: UInt64 = 0
            search: for later in 0..<length {
                let fingerprint = keyBase[later].fingerprint
                let bit: UInt64 = 1 &<< (fingerprint &>> 58)
                if seen & bit != 0 {
                    for earlier in 0..<later where keyBase[earlier].fingerprint == fingerprint {
                        if utf8Equal(keyBase[earlier].string, keyBase[later].string) {
                            unique = false
                            break search
                        }
                    }
                }
                seen |= bit
            }
        }
        if unique {
            // Built by appending, which is fully specialised (see `ScratchStack.popArray`).
            var entries: [JSONObject.Member] = []
            entries.reserveCapacity(length)
            for offset in 0..<length {
                entries.append(JSONObject.Member(key: (keyBase + offset).move().string, value: (valueBase + offset).move()))
            }
            return JSONObject(uniqueEntries: entries)
        }
        // Duplicate keys, or an object large enough to deserve a hash index: insert one by
        // one, which keeps the first position and the last value of a repeated key.
        var object = JSONObject()
        for offset in 0..<length {
            object.updateValue((valueBase + offset).move(), forKey: (keyBase + offset).move().string)
        }
        if object.count != length { departures &+= 1 }
        return object
    }

    // MARK: Literals

    /// Checks the literal `word` (whose first byte the caller has matched) at `position` with
    /// one 4-byte compare of its last four bytes; the byte-by-byte loop only finds the error.
    @inline(__always)
    mutating func expectLiteral(_ word: StaticString) throws(JSONParseError) {
        let length = word.utf8CodeUnitCount
        let tail = length &- 4
        if position &+ length <= count {
            let found = UnsafeRawPointer(base + (position &+ tail)).loadUnaligned(as: UInt32.self)
            let expected = UnsafeRawPointer(word.utf8Start + tail).loadUnaligned(as: UInt32.self)
            if found == expected {
                position &+= length
                return
            }
        }
        try reportBadLiteral(word)
    }

    @inline(never)
    mutating func reportBadLiteral(_ word: StaticString) throws(JSONParseError) {
        let length = word.utf8CodeUnitCount
        let expected = word.utf8Start
        for offset in 0..<length {
            guard position + offset < count else { throw JSONParseError(.unexpectedEnd, at: count) }
            let byte = base[position + offset]
            if byte != expected[offset] { throw JSONParseError(.unexpectedByte(byte), at: position + offset) }
        }
        position += length
    }

    // MARK: Strings

    /// Reads a string starting at its opening quote; returns its decoded UTF-8 bytes, which stay
    /// valid until the next string is read.
    mutating func readString() throws(JSONParseError) -> (start: UnsafePointer<UInt8>, count: Int) {
        let start = position + 1
        var index = start
        while true {
            index = firstSpecialByte(from: index)
            guard index < count else { throw JSONParseError(.unexpectedEnd, at: count) }
            let byte = base[index]
            if byte == quote {
                position = index + 1
                return (base + start, index - start)
            }
            if byte == backslash {
                return try readEscapedString(start: start, firstEscape: index)
            }
            if byte < 0x20 { throw JSONParseError(.controlCharacterInString(byte), at: index) }
            index += try validateUTF8Sequence(at: index)
        }
    }

    /// The slow path of `readString`, for strings with escapes: decodes into `unescaped`.
    mutating func readEscapedString(start: Int, firstEscape: Int) throws(JSONParseError)
        -> (start: UnsafePointer<UInt8>, count: Int)
    {
        departures &+= 1
        unescaped.removeAll()
        unescaped.append(base + start, count: firstEscape - start)
        var index = firstEscape
        var runStart = index
        while true {
            index = firstSpecialByte(from: index)
            guard index < count else { throw JSONParseError(.unexpectedEnd, at: count) }
            let byte = base[index]
            if byte == quote {
                unescaped.append(base + runStart, count: index - runStart)
                position = index + 1
                return (UnsafePointer(unescaped.base), unescaped.count)
            }
            if byte == backslash {
                unescaped.append(base + runStart, count: index - runStart)
                index = try decodeEscape(at: index)
                runStart = index
                continue
            }
            if byte < 0x20 { throw JSONParseError(.controlCharacterInString(byte), at: index) }
            index += try validateUTF8Sequence(at: index)
        }
    }

    /// Decodes the escape at `index` (a backslash) into `unescaped`; returns the index after it.
    mutating func decodeEscape(at index: Int) throws(JSONParseError) -> Int {
        guard index + 1 < count else { throw JSONParseError(.unexpectedEnd, at: count) }
        let decoded: UInt8
        switch base[index + 1] {
        case quote: decoded = quote
        case backslash: decoded = backslash
        case UInt8(ascii: "/"): decoded = UInt8(ascii: "/")
        case UInt8(ascii: "b"): decoded = 0x08
        case UInt8(ascii: "f"): decoded = 0x0C
        case UInt8(ascii: "n"): decoded = 0x0A
        case UInt8(ascii: "r"): decoded = 0x0D
        case UInt8(ascii: "t"): decoded = 0x09
        case UInt8(ascii: "u"):
            var unit = try readHex4(at: index + 2)
            var next = index + 6
            if (0xD800...0xDBFF).contains(unit) {
                // A high surrogate pairs with an immediately following low-surrogate escape;
                // anything else leaves it lone, and a lone surrogate becomes U+FFFD.
                if next + 1 < count, base[next] == backslash, base[next + 1] == UInt8(ascii: "u"),
                    let low = try? readHex4(at: next + 2), (0xDC00...0xDFFF).contains(low)
                {
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    next += 6
                } else {
                    unit = 0xFFFD
                }
            } else if (0xDC00...0xDFFF).contains(unit) {
                unit = 0xFFFD
            }
            appendUTF8(unit)
            return next
        default:
            throw JSONParseError(.invalidString, at: index)
        }
        var byte = decoded
        unescaped.append(&byte, count: 1)
        return index + 2
    }

    func readHex4(at index: Int) throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard index + offset < count else { throw JSONParseError(.unexpectedEnd, at: count) }
            let byte = base[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONParseError(.invalidString, at: index + offset)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        var bytes: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        let length: Int
        switch scalar {
        case 0..<0x80:
            bytes.0 = UInt8(scalar)
            length = 1
        case 0x80..<0x800:
            bytes.0 = UInt8(0xC0 | scalar >> 6)
            bytes.1 = UInt8(0x80 | scalar & 0x3F)
            length = 2
        case 0x800..<0x10000:
            bytes.0 = UInt8(0xE0 | scalar >> 12)
            bytes.1 = UInt8(0x80 | scalar >> 6 & 0x3F)
            bytes.2 = UInt8(0x80 | scalar & 0x3F)
            length = 3
        default:
            bytes.0 = UInt8(0xF0 | scalar >> 18)
            bytes.1 = UInt8(0x80 | scalar >> 12 & 0x3F)
            bytes.2 = UInt8(0x80 | scalar >> 6 & 0x3F)
            bytes.3 = UInt8(0x80 | scalar & 0x3F)
            length = 4
        }
        withUnsafeBytes(of: &bytes) { raw in
            unescaped.append(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: length)
        }
    }

    /// The index of the first byte at or after `index` that ends the plain run of a string:
    /// a quote, a backslash, a control character or a non-ASCII byte; `count` if none.
    @inline(__always)
    func firstSpecialByte(from index: Int) -> Int {
        var index = index
        #if _endian(little)
        // Sixteen bytes at a time while that many remain: read as signed lanes, one compare
        // (`< 0x20`) catches both control characters and non-ASCII bytes (0x80... are negative),
        // so a block costs three lane compares. The flagged lanes are all-ones bytes; seen as two
        // words, the lowest set byte is the first special byte.
        let quotes16 = SIMD16<Int8>(repeating: Int8(bitPattern: quote))
        let backslashes16 = SIMD16<Int8>(repeating: Int8(bitPattern: backslash))
        let spaces16 = SIMD16<Int8>(repeating: 0x20)
        while index &+ 16 <= count {
            let lanes = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD16<Int8>.self)
            let special = (lanes .== quotes16) .| (lanes .== backslashes16) .| (lanes .< spaces16)
            let words = unsafeBitCast(special, to: SIMD2<UInt64>.self)
            if words[0] != 0 { return index &+ words[0].trailingZeroBitCount &>> 3 }
            if words[1] != 0 { return index &+ 8 &+ words[1].trailingZeroBitCount &>> 3 }
            index &+= 16
        }
        // Eight bytes at a time: each test sets the high bit of the bytes it matches, and the
        // lowest flagged byte is exact (false positives can only appear above a real match).
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        while index &+ 8 <= count {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            let quotes = word ^ (ones &* UInt64(quote))
            let backslashes = word ^ (ones &* UInt64(backslash))
            let matches = ((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes)
                | ((word &- ones &* 0x20) & ~word) | word
            let flagged = matches & highBits
            if flagged != 0 { return index &+ flagged.trailingZeroBitCount &>> 3 }
            index &+= 8
        }
        #endif
        while index < count {
            let byte = base[index]
            if byte == quote || byte == backslash || byte < 0x20 || byte >= 0x80 { return index }
            index += 1
        }
        return count
    }

    /// Checks the multi-byte UTF-8 sequence starting at `index` (Unicode table 3-7: no overlong
    /// forms, no surrogates, nothing above U+10FFFF); returns its length.
    func validateUTF8Sequence(at index: Int) throws(JSONParseError) -> Int {
        let lead = base[index]
        let length: Int
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondHigh = 0x9F
        case 0xF0: length = 4; secondLow = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondHigh = 0x8F
        default: throw JSONParseError(.invalidUTF8, at: index)
        }
        guard index + length <= count else {
            // The input stops inside the sequence; report the bad bytes if there are any.
            for offset in 1..<(count - index) where !(0x80...0xBF).contains(base[index + offset]) {
                throw JSONParseError(.invalidUTF8, at: index)
            }
            throw JSONParseError(.unexpectedEnd, at: count)
        }
        let second = base[index + 1]
        guard second >= secondLow, second <= secondHigh else { throw JSONParseError(.invalidUTF8, at: index) }
        for offset in 2..<max(length, 2) where base[index + offset] & 0xC0 != 0x80 {
            throw JSONParseError(.invalidUTF8, at: index)
        }
        return length
    }

    /// A hash of a key's bytes for duplicate detection: equal keys must get equal fingerprints
    /// whichever way they were read (in place, or decoded from escapes).
    static func keyFingerprint(_ bytes: UnsafePointer<UInt8>, count length: Int) -> UInt64 {
        if length <= SmallASCIIString.capacity {
            let words = SmallASCIIString.wordsByteByByte(bytes, count: length)
            return KeyWords(head: words.0, tail: words.1).hash(length: length)
        }
        return KeyWords(bytes, count: length, readable: length).hash(length: length)
    }

    /// The inline-string words of the `length` (at most 15) bytes at `start` in the buffer.
    @inline(__always)
    func smallStringWords(at start: Int, count length: Int) -> (UInt64, UInt64) {
        if start &+ 16 <= count { return SmallASCIIString.words(base + start, count: length) }
        return SmallASCIIString.wordsByteByByte(base + start, count: length)
    }

    /// A string of plain ASCII bytes (no escapes) read in place.
    @inline(__always)
    func plainString(at start: Int, count length: Int) -> String {
        if length <= SmallASCIIString.capacity, buildsSmallStrings {
            return SmallASCIIString.make(smallStringWords(at: start, count: length), count: length)
        }
        return makeString(base + start, count: length)
    }

    @inline(__always)
    func makeString(_ bytes: UnsafePointer<UInt8>, count length: Int) -> String {
        // The bytes are validated UTF-8 already, so decoding never repairs anything. Measured
        // with callgrind: beyond 15 bytes `String(decoding:as:)` builds the string in about 40 %
        // fewer instructions (one ASCII pre-scan, then a copy into storage sized once);
        // up to 15 bytes copying into uninitialised capacity is cheaper, as it fills an inline
        // string and checks ASCII a word at a time where `String(decoding:)` goes byte by byte.
        if length > SmallASCIIString.capacity {
            return String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        }
        return String(unsafeUninitializedCapacity: length) { buffer in
            buffer.baseAddress.unsafelyUnwrapped.initialize(from: bytes, count: length)
            return length
        }
    }

    // MARK: Numbers

    /// Inlined into the value loop, its one call site (as `readKeyAndColon` is, and for the same
    /// reason): parse 145.6k -> 144.8k instructions per sample pass.
    @_transparent
    mutating func readNumber() throws(JSONParseError) -> Double {
        let start = position
        var index = position
        let negative = base[index] == UInt8(ascii: "-")
        if negative { index += 1 }

        // Up to 19 significant digits fit a UInt64; beyond that the exact conversion below
        // takes over.
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var exponent = 0
        var truncated = false

        @inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

        guard index < count else { throw JSONParseError(.unexpectedEnd, at: count) }
        if base[index] == UInt8(ascii: "0") {
            index += 1
            if index < count, isDigit(base[index]) { throw JSONParseError(.invalidNumber, at: index) }
        } else if isDigit(base[index]) {
            while index < count, isDigit(base[index]) {
                if significantDigits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(base[index] &- UInt8(ascii: "0"))
                    significantDigits += 1
                } else {
                    truncated = true
                }
                index += 1
            }
        } else {
            throw JSONParseError(.invalidNumber, at: index)
        }

        // Whether JavaScript prints the value with exactly these characters: no exponent, at
        // most 15 significant digits (so they are the shortest that round-trip), no trailing
        // fraction zero, no "-0", and not below 1e-6 (printed with an exponent).
        var canonical = true
        if index < count, base[index] == UInt8(ascii: ".") {
            index += 1
            guard index < count else { throw JSONParseError(.unexpectedEnd, at: count) }
            guard isDigit(base[index]) else { throw JSONParseError(.invalidNumber, at: index) }
            var leadingZeros = 0
            var lastDigit: UInt8 = 0
            while index < count, isDigit(base[index]) {
                let digit = base[index] &- UInt8(ascii: "0")
                lastDigit = digit
                if mantissa == 0 && digit == 0 { leadingZeros += 1 }
                if significantDigits < 19 {
                    if mantissa != 0 || digit != 0 { significantDigits += 1 }
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    exponent -= 1
                } else {
                    truncated = true
                }
                index += 1
            }
            if lastDigit == 0 || leadingZeros > 5 { canonical = false }
        }

        if index < count, base[index] | 0x20 == UInt8(ascii: "e") {
            canonical = false
            index += 1
            guard index < count else { throw JSONParseError(.unexpectedEnd, at: count) }
            var exponentNegative = false
            if base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-") {
                exponentNegative = base[index] == UInt8(ascii: "-")
                index += 1
                guard index < count else { throw JSONParseError(.unexpectedEnd, at: count) }
            }
            guard isDigit(base[index]) else { throw JSONParseError(.invalidNumber, at: index) }
            var written = 0
            while index < count, isDigit(base[index]) {
                // Saturates: any exponent this large already means 0 or infinity.
                if written < 100_000 { written = written * 10 + Int(base[index] &- UInt8(ascii: "0")) }
                index += 1
            }
            exponent += exponentNegative ? -written : written
        }

        if index - start > maximumNumberLength {
            throw JSONParseError(.numberTooLong(limit: maximumNumberLength), at: start)
        }
        position = index
        if !canonical || truncated || significantDigits > 15 || (negative && mantissa == 0) { departures &+= 1 }

        if !truncated {
            // Exact fast paths: the mantissa and the power of ten are both exact doubles, so one
            // IEEE multiply or divide rounds correctly (Clinger's fast path).
            if exponent == 0 {
                let value = Double(mantissa)
                return negative ? -value : value
            }
            if mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
                let value = exponent < 0
                    ? Double(mantissa) / powersOfTen[-exponent]
                    : Double(mantissa) * powersOfTen[exponent]
                return negative ? -value : value
            }
        }
        return slowNumber(from: start, to: index)
    }

    /// Correctly rounded conversion for the rare numbers the fast path cannot take; Swift's
    /// `Double(String)` uses the C library's exact, locale-independent conversion.
    @inline(never)
    func slowNumber(from start: Int, to end: Int) -> Double {
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: end - start), as: UTF8.self)
        // The grammar was checked above, so the conversion cannot fail.
        return Double(text) ?? .nan
    }
}

private let powersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]
