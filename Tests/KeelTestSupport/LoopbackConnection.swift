import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain TCP connection to a server on 127.0.0.1, for tests that need this process to hold an
/// open connection (such as checking what a child process inherits).
public enum LoopbackConnection {
    /// Opens a connection to `port`, sends one `GET path` and waits for the start of the answer —
    /// so the server has taken the connection over — and returns the descriptor, still open (the
    /// caller closes it).
    ///
    /// The blocking socket calls run on a thread of their own, never on one of Swift
    /// concurrency's few threads (the server answering may need those; on Linux they are also
    /// `DispatchQueue.global()`'s), and give up after a minute.
    public static func open(port: Int, path: String = "/v1/models") async throws -> Int32 {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try openBlocking(port: port, path: path) })
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
    }

    /// The whole answer (status line, headers and body) to one `GET path` at `port`, read until
    /// the server closes the connection (it is asked to), on a thread of its own.
    public static func get(port: Int, path: String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    let descriptor = try connectBlocking(port: port)
                    defer { close(descriptor) }
                    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
                    guard write(descriptor, request, request.count) == request.count else {
                        throw Failure(description: "the request to 127.0.0.1:\(port) could not be sent")
                    }
                    var answer: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 16_384)
                    while true {
                        let count = read(descriptor, &buffer, buffer.count)
                        guard count > 0 else { break }
                        answer += buffer[0..<count]
                        guard answer.count < 64 << 20 else { throw Failure(description: "the answer from 127.0.0.1:\(port) is over 64 MiB") }
                    }
                    return String(decoding: answer, as: UTF8.self)
                })
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
    }

    /// Why a connection could not be opened.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private static func openBlocking(port: Int, path: String) throws -> Int32 {
        let descriptor = try connectBlocking(port: port)
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        var buffer = [UInt8](repeating: 0, count: 512)
        guard write(descriptor, request, request.count) == request.count, read(descriptor, &buffer, buffer.count) > 0 else {
            close(descriptor)
            throw Failure(description: "the server at 127.0.0.1:\(port) did not answer")
        }
        return descriptor
    }

    /// A connected socket to 127.0.0.1:`port` whose reads and writes give up after a minute.
    private static func connectBlocking(port: Int) throws -> Int32 {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "no socket: \(String(cString: strerror(errno)))") }
        var limit = timeval(tv_sec: 60, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw Failure(description: "the server at 127.0.0.1:\(port) did not answer")
        }
        return descriptor
    }
}
