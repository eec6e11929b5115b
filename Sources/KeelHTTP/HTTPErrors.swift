import AsyncHTTPClient
import KeelCore
import NIOCore

/// Maps HTTP statuses, error bodies and transport failures onto ``ModelError`` codes, for every
/// provider: a status says what kind of failure it is, and an error body in the common shape
/// (`{"error": {"message": …, "code" or "type": …}}`, as OpenAI, Anthropic and the compatible
/// servers send) says more.
public enum HTTPErrors {
    /// The error for a response with a failing status (or a 200 whose body is an error object).
    public static func error(status: Int, body: JSONValue?, rawBody: String? = nil, rateLimit: RateLimitSnapshot?) -> ModelError {
        let errorObject = body?["error"]
        let providerMessage = errorObject?["message"]?.stringValue ?? errorObject?.stringValue ?? body?["message"]?.stringValue
        let providerCode = errorObject?["code"]?.stringValue ?? errorObject?["type"]?.stringValue
        let message = providerMessage ?? rawBody.map { summarize($0) } ?? "HTTP \(status) with no error message."
        let lowered = (providerMessage ?? "").lowercased()
        let code: ModelError.Code
        switch status {
        case 401, 403:
            code = .authentication
        case 429:
            code = .rateLimited
        case 408, 504:
            code = .timeout
        case 503, 529:
            code = .overloaded
        case 500...599:
            code = .server
        case 400, 413, 422:
            let isContextLength =
                providerCode == "context_length_exceeded" || lowered.contains("context length") || lowered.contains("context_length")
                || lowered.contains("maximum context") || lowered.contains("too many tokens") || lowered.contains("prompt is too long")
                || status == 413
            code = isContextLength ? .contextLengthExceeded : .invalidRequest
        case 200..<300:
            // An error object in a successful response: classify it by its type.
            switch providerCode {
            case "rate_limit_exceeded": code = .rateLimited
            case "server_error": code = .server
            case "overloaded_error": code = .overloaded
            case "context_length_exceeded": code = .contextLengthExceeded
            case "invalid_api_key", "authentication_error": code = .authentication
            default: code = .server
            }
        default:
            code = .invalidRequest
        }
        return ModelError(
            code, message: message, statusCode: status, retryAfter: rateLimit?.retryAfter, rateLimit: rateLimit,
            providerCode: providerCode)
    }

    /// The error for a failure below HTTP: timeouts, refused or dropped connections.
    public static func transportError(_ error: any Error, url: String) -> ModelError {
        if let error = error as? ModelError { return error }
        if error is CancellationError { return ModelError(.cancelled, message: "The request to \(url) was cancelled.") }
        if let clientError = error as? HTTPClientError {
            switch clientError {
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return ModelError(.timeout, message: "No complete answer from \(url) in time.", underlying: clientError)
            case .connectTimeout:
                return ModelError(.connection, message: "Connecting to \(url) timed out.", underlying: clientError)
            case .cancelled:
                return ModelError(.cancelled, message: "The request to \(url) was cancelled.", underlying: clientError)
            case .remoteConnectionClosed:
                return ModelError(.connection, message: "\(url) closed the connection before answering.", underlying: clientError)
            default:
                return ModelError(.connection, message: "The request to \(url) failed: \(clientError).", underlying: clientError)
            }
        }
        return ModelError(.connection, message: "Could not reach \(url): \(error).", underlying: SendableDescription(error))
    }

    /// At most 200 characters of a body, on one line.
    public static func summarize(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}

/// An error kept only as its description, for underlying errors that are not `Sendable`.
public struct SendableDescription: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ error: any Error) { description = String(describing: error) }
}
