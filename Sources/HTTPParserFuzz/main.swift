// libFuzzer entry point for the HTTP parser; see scripts/fuzz.sh.
//
// Built two ways. scripts/fuzz.sh compiles it with -sanitize=fuzzer,address -parse-as-library
// -DFUZZING: SwiftPM still links the executable's `main` to `HTTPParserFuzz_main`, so that
// function is defined here and hands control to libFuzzer's driver. A plain `swift build`
// compiles the replay driver at the bottom instead: it runs the files named on the command
// line through the same check (to reproduce a crash artifact without the sanitizers).
//
// Each input is parsed twice: whole, and split in two at a point taken from its first byte.
// Both runs must produce the same requests and the same refusal, and neither may crash,
// overflow or leak (AddressSanitizer watches). Small limits make the limit paths reachable.
#if canImport(Glibc)
import Glibc
#endif
import HTTPServer

private struct Outcome: Equatable {
    var requests: [String] = []
    var failure: HTTPParseError?
}

private func parse(_ chunks: [ArraySlice<UInt8>]) -> Outcome {
    var limits = HTTPParserLimits()
    limits.maxHeaderBytes = 512
    limits.maxHeaderCount = 16
    limits.maxRequestLineBytes = 256
    limits.maxChunkLineBytes = 64
    let parser = HTTPRequestParser(limits: limits)
    var outcome = Outcome()
    for chunk in chunks {
        parser.append(chunk)
        reading: while true {
            switch parser.next(maximumBodyBytes: { _, path in path.count > 3 ? 4096 : 64 }) {
            case .request(let request, let keepAlive):
                let headers = request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "|")
                outcome.requests.append(
                    "\(request.method) \(request.target) \(request.version) [\(headers)] \(request.body) \(keepAlive)")
            case .failure(let error):
                outcome.failure = error
                return outcome
            case .expectsContinue:
                continue
            case .needMoreData:
                break reading
            }
        }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = Int(bytes[0]) % (size + 1)
    let whole = parse([bytes[...]])
    let halves = parse([bytes[..<split], bytes[split...]])
    if whole != halves {
        fatalError("whole and split (at \(split)) parses differ:\nwhole: \(whole)\nsplit: \(halves)")
    }
    return 0
}

#if FUZZING
/// libFuzzer's driver (in libclang_rt.fuzzer), declared by hand: Swift sees no C header for it.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

@_cdecl("HTTPParserFuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
/// Runs each file named on the command line through the same check as the fuzzer.
private func replayInputs() {
    for path in CommandLine.arguments.dropFirst() {
        guard let file = fopen(path, "rb") else {
            print("cannot open \(path); pass paths of fuzz inputs")
            exit(2)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        fclose(file)
        bytes.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { _ = fuzzOneInput(base, buffer.count) }
        }
        print("\(path): ok")
    }
}

// A global initialiser rather than a statement, so the file also parses as a library (the
// fuzz build) where top-level statements are refused even in an inactive #if branch.
private let replayed: Void = replayInputs()
#endif
