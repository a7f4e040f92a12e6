/// One element of a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1):
/// `name; param; param=value; param="quoted"`.
public struct ExtensionOffer: Equatable, Sendable {
    public struct Parameter: Equatable, Sendable {
        public var name: [UInt8]
        public var value: [UInt8]?
        public init(name: [UInt8], value: [UInt8]?) {
            self.name = name
            self.value = value
        }
    }

    public var name: [UInt8]
    public var parameters: [Parameter]

    public init(name: [UInt8], parameters: [Parameter]) {
        self.name = name
        self.parameters = parameters
    }

    /// Parses every header line (in order) into offers. Elements that break the grammar are
    /// dropped rather than failing the handshake: a server may always decline an extension.
    public static func parse(_ headerValues: [[UInt8]]) -> [ExtensionOffer] {
        var offers: [ExtensionOffer] = []
        for value in headerValues {
            for element in split(value[...], at: UInt8(ascii: ",")) {
                if let offer = parseElement(element) { offers.append(offer) }
            }
        }
        return offers
    }

    private static func parseElement(_ element: ArraySlice<UInt8>) -> ExtensionOffer? {
        let parts = split(element, at: UInt8(ascii: ";"))
        guard let first = parts.first else { return nil }
        let name = ASCII.trimmed(first)
        guard isToken(name) else { return nil }
        var offer = ExtensionOffer(name: Array(name), parameters: [])
        for part in parts.dropFirst() {
            let item = ASCII.trimmed(part)
            if let eq = item.firstIndex(of: UInt8(ascii: "=")) {
                let key = ASCII.trimmed(item[..<eq])
                var value = ASCII.trimmed(item[(eq + 1)...])
                guard isToken(key) else { return nil }
                if value.first == UInt8(ascii: "\"") {
                    guard let unquoted = unquote(value) else { return nil }
                    value = unquoted[...]
                }
                // §9.1: a quoted value must still be a token once unquoted.
                guard isToken(value) else { return nil }
                offer.parameters.append(Parameter(name: Array(key), value: Array(value)))
            } else {
                guard isToken(item) else { return nil }
                offer.parameters.append(Parameter(name: Array(item), value: nil))
            }
        }
        return offer
    }

    /// Splits at `separator` outside double quotes.
    private static func split(_ bytes: ArraySlice<UInt8>, at separator: UInt8) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        var quoted = false
        var escaped = false
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if escaped {
                escaped = false
            } else if quoted && b == UInt8(ascii: "\\") {
                escaped = true
            } else if b == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if b == separator && !quoted {
                parts.append(bytes[start..<i])
                start = i + 1
            }
            i += 1
        }
        parts.append(bytes[start..<bytes.endIndex])
        return parts.filter { !ASCII.trimmed($0).isEmpty }
    }

    private static func unquote(_ value: ArraySlice<UInt8>) -> [UInt8]? {
        guard value.count >= 2, value.last == UInt8(ascii: "\"") else { return nil }
        var out: [UInt8] = []
        var escaped = false
        for b in value.dropFirst().dropLast() {
            if escaped { out.append(b); escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else { out.append(b) }
        }
        return escaped ? nil : out
    }

    private static func isToken<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        !bytes.isEmpty && bytes.allSatisfy(ASCII.isTokenByte)
    }
}
