import Foundation
import KeelCore
import Testing

/// Encoding into and decoding out of `JSONValue` directly agrees with `JSONEncoder`/`JSONDecoder`.
@Suite(.timeLimit(.minutes(5))) struct JSONValueCodingTests {
    struct Order: Codable, Equatable {
        enum Status: String, Codable { case open, shipped }
        struct Line: Codable, Equatable { var sku: String; var quantity: Int; var price: Double }
        var id: UUID
        var status: Status
        var lines: [Line]
        var notes: String?
        var tags: Set<String>
        var metadata: [String: Int]
        var placedAt: Date
        var receipt: Data
        var link: URL
        var matrix: [[Int]]
        var flag: Bool
    }

    let order = Order(
        id: UUID(uuidString: "6F9619FF-8B86-D011-B42D-00C04FC964FF") ?? UUID(), status: .shipped,
        lines: [.init(sku: "A-1", quantity: 2, price: 9.5), .init(sku: "B-2", quantity: 1, price: 120)], notes: nil, tags: ["gift"],
        metadata: ["priority": 2], placedAt: Date(timeIntervalSince1970: 1_767_225_600), receipt: Data([1, 2, 3]),
        link: URL(string: "https://example.com/o/1") ?? URL(fileURLWithPath: "/"), matrix: [[1, 2], [], [3]], flag: true)

    @Test func encodesAsJSONEncoderDoes() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let viaText = try JSONValue(parsing: try encoder.encode(order))
        #expect(try JSONValue(encoding: order) == viaText)
    }

    @Test func decodesWhatItEncodes() throws {
        #expect(try JSONValue(encoding: order).decode(as: Order.self) == order)
    }

    @Test func reportsWhereDecodingFailed() throws {
        let value: JSONValue = ["lines": [["sku": "A", "quantity": 1.5, "price": 1]]]
        struct Lines: Decodable { var lines: [Order.Line] }
        do {
            _ = try value.decode(as: Lines.self)
            Issue.record("expected an error")
        } catch let error as DecodingError {
            guard case .dataCorrupted(let context) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } == ["lines", "0", "quantity"])
        }
        #expect(throws: DecodingError.self) { try JSONValue.object(["sku": "A"]).decode(as: Order.Line.self) }
        #expect(throws: DecodingError.self) { try JSONValue.string("x").decode(as: Int.self) }
    }
}
