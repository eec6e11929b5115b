import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP proxy on 127.0.0.1 in front of another loopback port, that a test can turn into a bad
/// network: delay every piece of data, hold it (a blackhole: connections stay open and nothing
/// arrives, as in a partition), or cut every connection at once.
///
/// ```swift
/// let proxy = try TCPProxy(forwardingTo: postgresPort)
/// // point a worker at proxy.port … then:
/// proxy.mode = .blackhole
/// ```
///
/// Each connection is pumped by two threads of its own (blocking reads with a short timeout, so
/// a change of mode takes effect at once), never by Swift concurrency's threads.
public final class TCPProxy: Sendable {
    /// What the proxy does with the data it carries.
    public enum Mode: Sendable, Equatable {
        /// Forwards data as it comes.
        case pass
        /// Forwards each piece of data after `Duration`.
        case delay(Duration)
        /// Keeps connections open and forwards nothing, in either direction, until the mode changes;
        /// new connections are accepted and stay silent.
        case blackhole
    }

    /// The port the proxy listens on.
    public let port: Int
    private let target: Int
    private let listener: Int32
    private let state = Mutex(State())

    private struct State {
        var mode = Mode.pass
        var connections: [Int32] = []
        var stopped = false
    }

    /// A proxy listening on a free loopback port, forwarding to `port` on 127.0.0.1.
    public init(forwardingTo port: Int) throws {
        target = port
        (listener, self.port) = try Self.listenOnLoopback()
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "keel-proxy-accept"
        thread.start()
    }

    deinit {
        stop()
    }

    /// How data is carried from now on.
    public var mode: Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }

    /// Closes every connection open through the proxy (both sides see a reset or an end); new
    /// connections are carried as the mode says.
    public func cutAll() {
        let open = state.withLock { state -> [Int32] in
            defer { state.connections = [] }
            return state.connections
        }
        for descriptor in open { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// How many connections are open through the proxy (each counted once, by its client side).
    public var openConnections: Int {
        state.withLock { $0.connections.count } / 2
    }

    /// Stops listening and cuts every connection.
    public func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        cutAll()
    }

    private func acceptLoop() {
        while !state.withLock({ $0.stopped }) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            Self.setReadTimeout(client)
            guard let server = try? Self.connectToLoopback(port: target) else {
                close(client)
                continue
            }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections += [client, server]
                return true
            }
            guard admitted else {
                close(client)
                close(server)
                continue
            }
            let finished = Atomic<Int>(0)
            for (from, to) in [(client, server), (server, client)] {
                let pump = Thread { [self] in
                    self.pump(from: from, to: to)
                    // The second pump to end closes both sides.
                    if finished.add(1, ordering: .sequentiallyConsistent).newValue == 2 {
                        state.withLock { $0.connections.removeAll { $0 == client || $0 == server } }
                        close(client)
                        close(server)
                    }
                }
                pump.name = "keel-proxy-pump"
                pump.stackSize = 128 << 10
                pump.start()
            }
        }
    }

    /// Copies `from` to `to` as the mode says, until either side ends.
    private func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        var held: [UInt8] = []
        defer { shutdown(to, Int32(SHUT_WR)) }
        while true {
            let mode = self.mode
            if mode != .blackhole, !held.isEmpty {
                guard Self.writeAll(held, to: to) else { return }
                held = []
            }
            let count = read(from, &buffer, buffer.count)
            if count == 0 { return }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }  // the read timeout: look at the mode again
                return
            }
            switch self.mode {
            case .blackhole:
                held += buffer[0..<count]
            case .delay(let delay):
                Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
                guard Self.writeAll(Array(buffer[0..<count]), to: to) else { return }
            case .pass:
                guard Self.writeAll(Array(buffer[0..<count]), to: to) else { return }
            }
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Why the proxy could not start or connect.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private static func socketDescriptor() throws -> Int32 {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "no socket: \(String(cString: strerror(errno)))") }
        return descriptor
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
        return address
    }

    private static func listenOnLoopback() throws -> (Int32, Int) {
        let descriptor = try socketDescriptor()
        var reuse: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 64) == 0 else {
            close(descriptor)
            throw Failure(description: "cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    private static func connectToLoopback(port: Int) throws -> Int32 {
        let descriptor = try socketDescriptor()
        var address = loopback(port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw Failure(description: "cannot reach 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        setReadTimeout(descriptor)
        return descriptor
    }

    /// Reads time out, so that a pump notices a change of mode while its side is quiet.
    private static func setReadTimeout(_ descriptor: Int32) {
        var limit = timeval(tv_sec: 0, tv_usec: 100_000)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }
}
