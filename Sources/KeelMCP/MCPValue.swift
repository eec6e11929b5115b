import Foundation
import KeelCore
import MCP

extension JSONValue {
    /// The same value as MCP's `Value`: whole numbers become `.int`, others `.double`.
    var mcpValue: MCP.Value {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < 9.0e15 { .int(Int(value)) } else { .double(value) }
        case .string(let value): .string(value)
        case .array(let elements): .array(elements.map(\.mcpValue))
        case .object(let members): .object(members.mapValues(\.mcpValue))
        }
    }

    /// An MCP `Value` as JSON: binary data becomes its base64 text, as MCP writes it on the wire.
    init(mcp value: MCP.Value) {
        switch value {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .number(Double(value))
        case .double(let value): self = .number(value)
        case .string(let value): self = .string(value)
        case .data(let mimeType, let data): self = .string("data:\(mimeType ?? "application/octet-stream");base64,\(data.base64EncodedString())")
        case .array(let elements): self = .array(elements.map(JSONValue.init(mcp:)))
        case .object(let members): self = .object(members.mapValues(JSONValue.init(mcp:)))
        }
    }
}

extension MCP.Tool.Content {
    /// The text the model reads for one part of a tool's result. Text is given as is; other kinds
    /// are described, since a chat model's tool result is text.
    var modelText: String {
        switch self {
        case .text(let text, _, _):
            text
        case .image(let data, let mimeType, _, _):
            "[image \(mimeType), \(data.count) base64 characters]"
        case .audio(let data, let mimeType, _, _):
            "[audio \(mimeType), \(data.count) base64 characters]"
        case .resource(let resource, _, _):
            resource.text ?? "[resource \(resource.uri)\(resource.mimeType.map { ", \($0)" } ?? "")]"
        case .resourceLink(let uri, let name, _, _, let mimeType, _):
            "[resource link \(name): \(uri)\(mimeType.map { ", \($0)" } ?? "")]"
        }
    }
}
