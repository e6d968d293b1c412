#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable stack over manually managed memory, owned by one parse.
///
/// The parser collects the members of open arrays and objects here and *moves* them into
/// exactly-sized arrays when the container closes, so each container costs one allocation and
/// no reference-count traffic for its elements. Being non-copyable, it frees whatever is left
/// when the parse ends — including when it ends with an error.
struct ScratchStack<Element>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity = 0
    /// Whether `base` was allocated here (rather than lent by the caller), so must be freed.
    private var ownsStorage = false

    /// Allocates nothing until the first push: a document without containers (or without
    /// escapes, for the byte buffer) never pays for the stack.
    init() {
        base = UnsafeMutablePointer(bitPattern: MemoryLayout<Element>.alignment).unsafelyUnwrapped
    }

    /// Starts in `storage` (typically the caller's stack frame), which must outlive the stack
    /// and is never freed here; only growing past it allocates. Most documents fit, so their
    /// parse makes no allocation for its bookkeeping at all.
    init(startingIn storage: UnsafeMutableRawBufferPointer) {
        var start = UnsafeMutablePointer<Element>(bitPattern: MemoryLayout<Element>.alignment).unsafelyUnwrapped
        var fit = 0
        if let raw = storage.baseAddress {
            let aligned = raw.alignedUp(for: Element.self)
            fit = max(0, storage.count - (aligned - raw)) / MemoryLayout<Element>.stride
            if fit > 0 { start = aligned.bindMemory(to: Element.self, capacity: fit) }
        }
        base = start
        capacity = fit
    }

    deinit {
        base.deinitialize(count: count)
        if ownsStorage { free(base) }
    }

    @inline(__always)
    mutating func push(_ element: consuming Element) {
        if count == capacity { grow(minimumCapacity: count &+ 1) }
        (base + count).initialize(to: element)
        count &+= 1
    }

    @inline(__always)
    subscript(position: Int) -> Element { base[position] }

    /// Forgets the elements from `start` on without deinitializing them, returning where they
    /// are: the caller must move every one of them out before the next push.
    @inline(__always)
    mutating func detachTail(from start: Int) -> UnsafeMutablePointer<Element> {
        count = start
        return base + start
    }

    /// Moves the elements from `start` on into a new array of exactly that size.
    @inline(__always)
    mutating func popArray(from start: Int) -> [Element] {
        let length = count - start
        if length == 0 { return [] }
        let source = detachTail(from: start)
        // `reserveCapacity` + `append` is specialised in full for `Element`; the
        // `unsafeUninitializedCapacity` initialiser goes through an unspecialised stdlib entry
        // that looks up the array's type metadata in a global cache on every call.
        var array: [Element] = []
        array.reserveCapacity(length)
        for offset in 0..<length { array.append((source + offset).move()) }
        return array
    }

    @inline(never)
    mutating func grow(minimumCapacity: Int) {
        var newCapacity = max(capacity * 2, 16)
        while newCapacity < minimumCapacity { newCapacity *= 2 }
        // `malloc` rather than `UnsafeMutablePointer.allocate`, which on Linux goes through
        // `posix_memalign` (to allow any alignment) at several times the cost; `malloc`'s
        // 16-byte alignment covers every element type used here.
        precondition(MemoryLayout<Element>.alignment <= 16, "ScratchStack elements must not need more than 16-byte alignment")
        guard let memory = malloc(newCapacity * MemoryLayout<Element>.stride) else {
            fatalError("out of memory growing the JSON parser's scratch stack to \(newCapacity) elements")
        }
        let newBase = memory.bindMemory(to: Element.self, capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        if ownsStorage { free(base) }
        base = newBase
        capacity = newCapacity
        ownsStorage = true
    }
}

extension ScratchStack where Element == UInt8 {
    @inline(__always)
    mutating func append(_ bytes: UnsafePointer<UInt8>, count length: Int) {
        if count + length > capacity { grow(minimumCapacity: count + length) }
        (base + count).initialize(from: bytes, count: length)
        count += length
    }

    @inline(__always)
    mutating func removeAll() { count = 0 }
}
