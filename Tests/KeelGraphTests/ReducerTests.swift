import KeelCore
import KeelGraph
import Testing

/// Reducers combine a field's value with an update (pure logic).
@Suite(.timeLimit(.minutes(1))) struct ReducerTests {
    @Test func replaceIsTheDefault() throws {
        #expect(try Reducer.replace.apply(["a"], ["b"]) == ["b"])
    }

    @Test func appendAddsElementsOrOneValue() throws {
        #expect(try Reducer.append.apply(["a"], ["b", "c"]) == ["a", "b", "c"])
        #expect(try Reducer.append.apply(nil, "x") == ["x"])
    }

    @Test func mergeByKeyReplacesMatchingElementsInPlace() throws {
        let current: JSONValue = [["id": 1, "v": "old"], ["id": 2, "v": "keep"]]
        let update: JSONValue = [["id": 1, "v": "new"], ["id": 3, "v": "added"]]
        #expect(try Reducer.mergeByKey("id").apply(current, update) == [["id": 1, "v": "new"], ["id": 2, "v": "keep"], ["id": 3, "v": "added"]])
        #expect(try Reducer.mergeByKey("id").apply(["a": 1, "b": 2], ["b": 3]) == ["a": 1, "b": 3])
    }

    @Test func customReducersWorkOnTypedValues() throws {
        let maximum = Reducer.custom("max", as: Int.self) { current, update in max(current ?? .min, update) }
        #expect(try maximum.apply(5, 3) == 5)
        #expect(try maximum.apply(nil, 3) == 3)
        #expect(throws: (any Error).self) { try maximum.apply(5, "not a number") }
    }
}
