import Foundation
import KeelCore
import Testing

/// Where to travel.
@Schema
struct TripArguments: Decodable, Sendable {
    /// The destination city.
    var city: String
    /// Nights to stay.
    @Field(minimum: 1, maximum: 14)
    var nights: Int
    /// Optional budget in euros.
    @Field(exclusiveMinimum: 0)
    var budget: Double?
    var travellers: [Traveller]
    var seat: SeatClass
    var priority: Priority?
    @Field(description: "Free-form notes.", maxLength: 200)
    var notes: String?
    var tags: Set<String>?
    var extras: [String: Int]?
    var nightsLabel: String { "\(nights) nights" }  // computed
    static let defaultCity = "Lisbon"  // static
}

/// Someone on the trip.
@Schema
struct Traveller: Decodable, Sendable, Equatable {
    /** Full name,
     as on the passport. */
    var name: String
    @Field(minimum: 0, maximum: 130)
    var age: Int
}

/// The class of seat.
@Schema
enum SeatClass: String, Decodable, Sendable {
    case economy
    case business = "business-class"
    case first
}

@Schema
enum Priority: Int, Decodable, Sendable {
    case low = 1, normal, high
}

@Schema
struct RenamedArguments: Decodable {
    var userID: String
    var internalNote: String?

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
    }
}

@Schema
struct ConstantsSkipped {
    let kind: String = "trip"  // a `let` with a value is never decoded
    var count: Int
}

@Schema
public struct PublicArguments: Decodable {
    public var value: Int
}

@Suite(.timeLimit(.minutes(5))) struct SchemaMacroTests {
    let schema = TripArguments.jsonSchema

    @Test func typeDocCommentBecomesTheDescription() {
        #expect(schema.description == "Where to travel.")
        #expect(schema.types == [.object])
        #expect(schema.additionalPropertiesAllowed == false)
    }

    @Test func propertiesKeepDeclarationOrderAndSkipWhatIsNotDecoded() {
        #expect(schema.properties.map(\.name) == ["city", "nights", "budget", "travellers", "seat", "priority", "notes", "tags", "extras"])
    }

    @Test func optionalPropertiesAreNotRequired() {
        #expect(schema.required == ["city", "nights", "travellers", "seat"])
    }

    @Test func propertyDocCommentsBecomeDescriptions() {
        #expect(schema[property: "city"]?.description == "The destination city.")
        #expect(schema[property: "budget"]?.description == "Optional budget in euros.")
        #expect(Traveller.jsonSchema[property: "name"]?.description == "Full name, as on the passport.")
    }

    @Test func fieldDescriptionWinsOverNothing() {
        #expect(schema[property: "notes"]?.description == "Free-form notes.")
        #expect(schema[property: "notes"]?.maxLength == 200)
    }

    @Test func numericBoundsComeFromField() {
        let nights = schema[property: "nights"]
        #expect(nights?.types == [.integer])
        #expect(nights?.minimum == 1)
        #expect(nights?.maximum == 14)
        #expect(schema[property: "budget"]?.exclusiveMinimum == 0)
        #expect(schema[property: "budget"]?.types == [.number])
    }

    @Test func stringEnumsListTheirRawValues() {
        let seat = schema[property: "seat"]
        #expect(seat?.types == [.string])
        #expect(seat?.allowedValues == ["economy", "business-class", "first"])
        #expect(seat?.description == "The class of seat.")
    }

    @Test func intEnumsCountFromTheirRawValues() {
        #expect(Priority.jsonSchema.types == [.integer])
        #expect(Priority.jsonSchema.allowedValues == [1, 2, 3])
    }

    @Test func arraysOfNestedStructsUseTheNestedSchema() {
        let travellers = schema[property: "travellers"]
        #expect(travellers?.types == [.array])
        #expect(travellers?.items == Traveller.jsonSchema)
        #expect(travellers?.items?[property: "age"]?.maximum == 130)
        #expect(schema[property: "tags"]?.extra["uniqueItems"] == true)
        #expect(schema[property: "extras"]?.additionalProperties == Int.jsonSchema)
    }

    @Test func constantsWithAValueAreNotInTheSchema() {
        #expect(ConstantsSkipped.jsonSchema.properties.map(\.name) == ["count"])
    }

    @Test func codingKeysRenameAndExclude() {
        #expect(RenamedArguments.jsonSchema.properties.map(\.name) == ["user_id"])
        #expect(RenamedArguments.jsonSchema.required == ["user_id"])
    }

    @Test func publicTypesGetAPublicSchema() {
        #expect(PublicArguments.jsonSchema.required == ["value"])
    }

    @Test func derivedSchemaAcceptsWhatDecodesAndRefusesWhatBreaksIt() throws {
        let good = try JSONValue(parsing: #"{"city": "Porto", "nights": 3, "travellers": [{"name": "Ana", "age": 30}], "seat": "business-class", "priority": 2}"#)
        #expect(schema.validate(good).isEmpty)
        let decoded = try good.decode(as: TripArguments.self)
        #expect(decoded.seat == .business)
        #expect(decoded.travellers == [Traveller(name: "Ana", age: 30)])

        let bad = try JSONValue(parsing: #"{"city": "Porto", "nights": 30, "travellers": [{"name": "Ana", "age": -1}], "seat": "sofa"}"#)
        #expect(schema.validate(bad).map(\.description) == [
            "/nights: 30 is greater than the maximum 14",
            #"/seat: "sofa" is not one of "economy", "business-class", "first""#,
            "/travellers/0/age: -1 is less than the minimum 0",
        ])
    }
}
