import Foundation
import KeelRuntime
import NIOSSL
import PostgresNIO

extension PostgresRunStore {
    /// Whether and how connections use TLS: libpq's `sslmode`, with its meaning.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Never TLS.
        case disable
        /// TLS when the server offers it, plain otherwise; the certificate is not checked (libpq's
        /// default).
        case prefer
        /// Always TLS; the certificate is checked against the root certificate when one is given
        /// (as libpq does), not otherwise.
        case require
        /// Always TLS, the certificate signed by a trusted root; the host name is not checked.
        case verifyCA = "verify-ca"
        /// Always TLS, the certificate signed by a trusted root and naming the host.
        case verifyFull = "verify-full"
    }

    /// The TLS of connections, in both of PostgresNIO's forms (the pool's and a single
    /// connection's).
    enum TLSSetting {
        case disable
        case prefer(TLSConfiguration)
        case require(TLSConfiguration)

        /// `mode` trusting `rootCertificate` (a PEM file) when given, the system's roots otherwise.
        init(_ mode: TLSMode, rootCertificate: String?) throws {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let rootCertificate {
                guard FileManager.default.isReadableFile(atPath: rootCertificate) else {
                    throw StoreError(.invalidState, "the root certificate \(rootCertificate) (sslrootcert) cannot be read")
                }
                configuration.trustRoots = .file(rootCertificate)
            }
            // Where nothing is verified, no roots are loaded: reading the system's bundle costs a
            // noticeable slice of CPU for every context made.
            let unverified = { (configuration: inout TLSConfiguration) in
                configuration.certificateVerification = .none
                configuration.trustRoots = .certificates([])
            }
            switch mode {
            case .disable:
                self = .disable
            case .prefer:
                unverified(&configuration)
                self = .prefer(configuration)
            case .require:
                if rootCertificate == nil {
                    unverified(&configuration)
                } else {
                    configuration.certificateVerification = .noHostnameVerification
                }
                self = .require(configuration)
            case .verifyCA:
                configuration.certificateVerification = .noHostnameVerification
                self = .require(configuration)
            case .verifyFull:
                configuration.certificateVerification = .fullVerification
                self = .require(configuration)
            }
        }

        var client: PostgresClient.Configuration.TLS {
            switch self {
            case .disable: .disable
            case .prefer(let configuration): .prefer(configuration)
            case .require(let configuration): .require(configuration)
            }
        }

        func connection() throws -> PostgresConnection.Configuration.TLS {
            switch self {
            case .disable: return .disable
            case .prefer(let configuration): return .prefer(try NIOSSLContext(configuration: configuration))
            case .require(let configuration): return .require(try NIOSSLContext(configuration: configuration))
            }
        }
    }

    /// The password for `user` at `host:port/database` from a `.pgpass` file: lines of
    /// `hostname:port:database:username:password`, `*` matching anything, `\:` and `\\` escaped,
    /// `#` starting a comment; the first matching line wins.
    static func password(fromPassfile text: String, host: String, port: Int, database: String, user: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = []
            var current = ""
            var escaped = false
            for character in line {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 4 {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// ``password(fromPassfile:host:port:database:user:)``, for tests.
    package static func passwordForTests(_ text: String, host: String, port: Int, database: String, user: String) -> String? {
        password(fromPassfile: text, host: host, port: port, database: database, user: user)
    }
}
