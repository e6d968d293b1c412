#if canImport(Glibc)
import Glibc

/// epoll and eventfd for Swift on Linux.
///
/// Swift's Glibc module does not export <sys/epoll.h> or <sys/eventfd.h>, and this package adds
/// no C target, so the four calls are looked up once with `dlsym` and called through C function
/// pointers (the C calling convention, unlike `@_silgen_name`). `struct epoll_event` is packed
/// on x86_64 (12 bytes) and naturally aligned elsewhere (16 bytes); `EpollEvents` handles both.
enum Epoll {
    static let readable: UInt32 = 0x001
    static let writable: UInt32 = 0x004
    static let error: UInt32 = 0x008
    static let hangUp: UInt32 = 0x010
    static let peerHalfClosed: UInt32 = 0x2000
    static let exclusive: UInt32 = 1 << 28
    static let edgeTriggered: UInt32 = 1 << 31

    static let add: Int32 = 1
    static let delete: Int32 = 2

    private typealias CreateFunction = @convention(c) (Int32) -> Int32
    private typealias ControlFunction = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    private typealias WaitFunction = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    private typealias EventFDFunction = @convention(c) (UInt32, Int32) -> Int32
    private typealias AcceptFunction = @convention(c) (
        Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32
    ) -> Int32

    private static func symbol<T>(_ name: String, as type: T.Type) -> T {
        let handle = dlopen(nil, RTLD_NOW)
        guard let address = dlsym(handle, name) else {
            fatalError("the C library has no \(name); this server needs Linux with epoll")
        }
        return unsafeBitCast(address, to: type)
    }

    private static let createFunction = symbol("epoll_create1", as: CreateFunction.self)
    private static let controlFunction = symbol("epoll_ctl", as: ControlFunction.self)
    private static let waitFunction = symbol("epoll_wait", as: WaitFunction.self)
    private static let eventFDFunction = symbol("eventfd", as: EventFDFunction.self)
    private static let acceptFunction = symbol("accept4", as: AcceptFunction.self)

    /// `accept4(…, SOCK_NONBLOCK | SOCK_CLOEXEC)`: one call instead of accept plus two fcntl.
    static func accept(
        _ listenFD: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>
    ) -> Int32 {
        acceptFunction(listenFD, address, length, Int32(O_NONBLOCK | O_CLOEXEC))
    }

    /// `epoll_create1(EPOLL_CLOEXEC)`.
    static func create() -> Int32 { createFunction(Int32(O_CLOEXEC)) }

    static func control(_ epollFD: Int32, _ operation: Int32, _ fd: Int32, events: UInt32, data: UInt64) -> Int32 {
        var record = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &record) { bytes in
            bytes.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            bytes.storeBytes(of: data, toByteOffset: EpollEvents.dataOffset, as: UInt64.self)
            return controlFunction(epollFD, operation, fd, bytes.baseAddress)
        }
    }

    static func wait(_ epollFD: Int32, into events: EpollEvents, timeoutMilliseconds: Int32) -> Int32 {
        waitFunction(epollFD, events.storage, Int32(events.capacity), timeoutMilliseconds)
    }

    /// A non-blocking, close-on-exec eventfd.
    static func makeEventFD() -> Int32 { eventFDFunction(0, Int32(O_NONBLOCK | O_CLOEXEC)) }

    static func signal(_ eventFD: Int32) {
        var one: UInt64 = 1
        _ = write(eventFD, &one, 8)
    }

    static func drain(_ eventFD: Int32) {
        var value: UInt64 = 0
        _ = read(eventFD, &value, 8)
    }
}

/// A buffer of `struct epoll_event` records for `epoll_wait`.
final class EpollEvents {
    #if arch(x86_64)
    static let stride = 12
    static let dataOffset = 4
    #else
    static let stride = 16
    static let dataOffset = 8
    #endif

    let capacity: Int
    let storage: UnsafeMutableRawPointer

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(byteCount: capacity * Self.stride, alignment: 8)
    }

    deinit { storage.deallocate() }

    func events(at index: Int) -> UInt32 {
        storage.loadUnaligned(fromByteOffset: index * Self.stride, as: UInt32.self)
    }

    func data(at index: Int) -> UInt64 {
        storage.loadUnaligned(fromByteOffset: index * Self.stride + Self.dataOffset, as: UInt64.self)
    }
}
#endif
