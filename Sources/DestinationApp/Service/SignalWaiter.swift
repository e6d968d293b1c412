import Dispatch
import Foundation

/// Turns process signals into calls on a dispatch queue, so shutdown and reload run as
/// ordinary code instead of inside an async-signal handler.
final class SignalWaiter: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "adobe-target-destination.signals")

    func on(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) {
        for signalNumber in signals {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { handler(signalNumber) }
            source.resume()
            sources.append(source)
        }
    }

    func cancelAll() {
        for source in sources { source.cancel() }
        sources.removeAll()
    }
}
