import JSONKit

/// One step of a location inside a JSON document: an object member or an array element.
public enum PathComponent: Sendable, Hashable {
    case key(String)
    case index(Int)
}

extension Array where Element == PathComponent {
    /// Renders the components after `prefix`: `$.traits["first name"][0]`.
    ///
    /// Callers that embed a mapping in a larger document (the config checker) pass their own
    /// prefix, or prepend their components, so a problem reads `$.mappings[0].mapping.traits`.
    public func rendered(prefix: String = "$") -> String {
        var text = prefix
        for component in self {
            switch component {
            case .index(let index):
                text += "[\(index)]"
            case .key(let key):
                if isJavaScriptIdentifier(key) {
                    text += "." + key
                } else {
                    text += "[" + JSONValue.string(key).jsonString + "]"
                }
            }
        }
        return text
    }
}

/// Keys JavaScript accepts after a dot; anything else is shown bracket-quoted.
func isJavaScriptIdentifier(_ key: String) -> Bool {
    func isStart(_ scalar: Unicode.Scalar) -> Bool {
        (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_" || scalar == "$"
    }
    guard let first = key.unicodeScalars.first, isStart(first) else { return false }
    return key.unicodeScalars.allSatisfy { isStart($0) || ($0 >= "0" && $0 <= "9") }
}
