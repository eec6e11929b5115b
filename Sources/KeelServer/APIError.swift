import Foundation
import Hummingbird
import KeelRuntime

/// An error the API answers with: a status and a JSON body `{"error": {"code", "message"}}`.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    /// A stable code a client can branch on, such as `not_found`.
    public var code: String
    public var message: String
    /// Seconds to wait before trying again (a 429).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    static let unauthorized = APIError(.unauthorized, "unauthorized", "send an API key as 'Authorization: Bearer KEY'")

    /// The answer for a run, approval or dead letter that is missing *or another tenant's*: the
    /// two look the same, so a key never learns what another tenant holds.
    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", "no \(what)") }

    static func forbidden(_ role: APIKeyRole) -> APIError { APIError(.forbidden, "forbidden", "this needs a key of role \(role.rawValue) or above") }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(ErrorBody(error: .init(code: code, message: message)))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError {
    /// The API's answer for a store error: a conflict or a state that does not allow the request
    /// is the client's to fix; anything else is the server's, said without the store's details.
    init(_ error: StoreError) {
        switch error.code {
        case .notFound: self = .notFound("such thing")
        case .conflict: self.init(.conflict, "conflict", error.message)
        case .invalidState: self.init(.conflict, "invalid_state", error.message)
        case .unavailable, .locked: self.init(.serviceUnavailable, "unavailable", "the store cannot be reached; try again")
        default: self.init(.internalServerError, "store_error", "the store failed (\(error.code))")
        }
    }
}

/// The body of an error answer.
struct ErrorBody: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var code: String
        var message: String
    }
    var error: Detail
}

/// Gives every error answer the API's shape — `{"error": {"code", "message"}}` — including
/// Hummingbird's own (an unknown route, a body that does not decode, one too large) and any
/// error nobody classified (a 500 that says nothing of the server's internals).
struct ErrorShape: RouterMiddleware {
    typealias Context = ServerContext

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw APIError(error.status, Self.code(error.status), error.body ?? error.status.reasonPhrase)
        } catch let error as any HTTPResponseError {
            throw APIError(error.status, Self.code(error.status), error.status.reasonPhrase)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, "internal", "the server failed to answer this request")
        }
    }

    static func code(_ status: HTTPResponse.Status) -> String {
        switch status {
        case .badRequest: "bad_request"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .contentTooLarge: "body_too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        default: "http_\(status.code)"
        }
    }
}
